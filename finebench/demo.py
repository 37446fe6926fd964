"""`finebench demo`: the whole pipeline on a machine with no download and no GPU.

Generated archives in the official layouts -> `finebench prepare` -> the lite benchmark
through the real lmms-eval CLI, for the reference responders and a tiny random
Qwen2.5-VL built on the spot -> result entries -> one table.

All of it happens in a home of its own, ``$FINEBENCH_HOME/demo``: the stand-in images
must never replace a user's prepared benchmark or few-shot sets, which live beside it.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Sequence

from finebench import atomic
from finebench.data.fewshot import prepare_fewshot
from finebench.data.fixtures import default_workers, write_archives
from finebench.data.manifests import load_manifests
from finebench.data.prepare import prepare, summary_table
from finebench.errors import FinebenchError
from finebench.harness.doctor import preflight_evaluation
from finebench.harness.evalrun import PathLinks, run_lmms_eval
from finebench.harness.tasknames import DEFAULT_GLOB, both_protocols
from finebench.harness.tinymodel import MAX_PIXELS, MIN_PIXELS, build_tiny_qwen2_5_vl
from finebench.home import HOME_VARIABLE, finebench_home
from finebench.results import entries
from finebench.results.ingest import ingest

TINY_QWEN = "tiny_qwen2_5_vl"
MODELS = ("ground_truth", "first_option", "random_option", "all_options", TINY_QWEN)
TASKS = both_protocols(lite=True)
ENCODER = "minilm"  # offline; the default SigLIP encoder needs the model hub
TINY_NEW_TOKENS = 24  # a random model only babbles: keep its babble short
TINY_BATCH = 32  # on the CPU: half the time of one request a forward pass at 16, 15 % less again at 32 (measured)

EXPLANATION = f"""\
How to read this: ground_truth is the ceiling (100 everywhere). first_option scores 100 on
the official closed world because the released manifests always list the answer first, and
chance (about 25) with finebench's shuffled options. all_options names every option at once:
the released substring scorer counts that as correct, finebench does not. {TINY_QWEN} is a
two-layer Qwen2.5-VL with random weights, built offline in seconds: it proves the harness
runs a real model end to end, and it scores near zero because it has learned nothing (its
answers are {TINY_NEW_TOKENS} random tokens). Open-world similarity here uses the offline
MiniLM encoder ({ENCODER}); the default is the release's SigLIP.

The demo's data, runs and entries are in {{home}}; to look at them:
  {HOME_VARIABLE}={{home}} finebench status
  finebench tables --protocol finebench --entries {{home}}/results

A real model, on a GPU machine with the archives prepared:
  lmms-eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks '{DEFAULT_GLOB}' --batch_size 1 --log_samples --output_path runs/qwen7b
  finebench ingest runs/qwen7b"""


def demo_home() -> Path:
    """The demo's own FINEBENCH_HOME, inside the user's."""
    return finebench_home() / "demo"


def tiny_model(home: Path) -> Path:
    """The tiny random Qwen2.5-VL, built in the demo's home the first time."""
    folder = home / "model"
    if not (folder / "config.json").is_file():
        build_tiny_qwen2_5_vl(folder)
    return folder


def _model_arguments(model: str, home: Path, links: PathLinks) -> list[str]:
    if model != TINY_QWEN:
        return ["--model", model]
    return ["--model", "qwen2_5_vl", "--model_args",
            f"pretrained={links.carry(tiny_model(home))},device=cpu,device_map=cpu,min_pixels={MIN_PIXELS},"
            f"max_pixels={MAX_PIXELS}", "--gen_kwargs", f"max_new_tokens={TINY_NEW_TOKENS}",
            "--batch_size", str(TINY_BATCH)]


def prepare_demo_data(manifest_source: Path | None, home: Path) -> None:
    data_root = home / "archives"
    done = data_root / ".complete"
    if done.is_file():
        print(f"stand-in archives already in {data_root}")
    else:
        print(f"writing stand-in archives to {data_root}")
        write_archives(data_root, load_manifests(manifest_source), workers=default_workers())
        done.touch()
    # replace: what the demo's home holds came from the demo's own stand-ins (a copied or moved home
    # has other file times), and nothing of the user's lives there
    print(summary_table(prepare(data_root, manifest_source, home=home, replace=True)))
    for path, status in prepare_fewshot(data_root, manifest_source, home=home, replace=True):
        print(f"{status:>10}  {path}")


def _evaluate(model: str, home: Path) -> tuple[int, float]:
    """One model's lite run through the lmms-eval CLI, its output in runs/<model>/log.txt."""
    started = time.perf_counter()
    output = home / "runs" / model
    # The tiny model's matrices are too small to gain from threads, and threads that fight the runs beside
    # it for the cores cost far more (alone here: 81 s on one thread, 91 s on two; beside a responder: 241 s).
    with PathLinks() as links:
        code = run_lmms_eval([*_model_arguments(model, home, links), "--tasks", TASKS, "--log_samples",
                              "--output_path", str(output)], encoder=ENCODER, home=home, log=output / "log.txt",
                             variables={"OMP_NUM_THREADS": "1"} if model == TINY_QWEN else None)
    return code, time.perf_counter() - started


def run_demo(manifest_source: Path | None = None, models: Sequence[str] = MODELS) -> list[dict]:
    home = demo_home()
    busy = FinebenchError(f"another finebench demo is running in {home}",
                          "wait for it to finish (two would write into the same runs), or set FINEBENCH_HOME elsewhere")
    with atomic.exclusive(home / ".demo.lock", busy):
        return _run_demo(home, manifest_source, models)


def _run_demo(home: Path, manifest_source: Path | None, models: Sequence[str]) -> list[dict]:
    print(f"the demo works in {home} ({HOME_VARIABLE}/demo): your own prepared data is not touched")
    prepare_demo_data(manifest_source, home)
    preflight_evaluation("demo", ["--tasks", TASKS], home, encoder=ENCODER)
    if TINY_QWEN in models:
        tiny_model(home)  # built once, before the runs start side by side
    # Each run is mostly one busy Python process: side by side, they use the machine's cores.
    parallel = max(1, min(len(models), os.cpu_count() or 1, 4))
    print(f"\nlmms-eval --tasks {TASKS}, {len(models)} models, {parallel} at a time:")
    with ThreadPoolExecutor(parallel) as pool:
        # the slow model first, so the quick responders fill the other cores meanwhile
        runs = {model: pool.submit(_evaluate, model, home) for model in sorted(models, key=lambda m: m != TINY_QWEN)}
        for future in as_completed(runs.values()):
            model = next(name for name, run in runs.items() if run is future)
            code, seconds = future.result()
            print(f"  {model:<16} {'done' if code == 0 else f'FAILED (exit code {code})'} in {seconds:.0f} s, "
                  f"log {home / 'runs' / model / 'log.txt'}", flush=True)
    failed = [model for model, run in runs.items() if run.result()[0] != 0]
    if failed:
        raise FinebenchError(f"lmms-eval failed for {', '.join(failed)}",
                             "the end of each log says why: " + ", ".join(str(home / "runs" / m / "log.txt")
                                                                        for m in failed))
    built = []
    for model in models:
        for path in ingest(home / "runs" / model, home / "results", name=model, family=_family(model)):
            built.append(entries.read(path))
    print("\n" + entries.format_comparison(built))
    print("\n" + EXPLANATION.format(home=home))
    return built


def _family(model: str) -> str:
    return "general MLLM" if model == TINY_QWEN else "reference responder"
