"""`finebench demo`: the whole pipeline on a machine with no download and no GPU.

Generated archives in the official layouts -> `finebench prepare` -> the lite benchmark
through the real lmms-eval CLI, for the reference responders and a tiny random
Qwen2.5-VL built on the spot -> result entries -> one table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from . import entries
from .evalrun import run_lmms_eval
from .fewshot import prepare_fewshot
from .fixtures import default_workers, write_archives
from .home import finebench_home
from .ingest import ingest
from .manifests import load_manifests
from .prepare import prepare, summary_table
from .tinymodel import MAX_PIXELS, MIN_PIXELS, build_tiny_qwen2_5_vl

TINY_QWEN = "tiny_qwen2_5_vl"
MODELS = ("ground_truth", "first_option", "random_option", "all_options", TINY_QWEN)
TASKS = "finegrained_lite,finegrained_official_lite"
ENCODER = "minilm"  # offline; the default SigLIP encoder needs the model hub
TINY_NEW_TOKENS = 24  # a random model only babbles: keep its babble short

EXPLANATION = f"""\
How to read this: ground_truth is the ceiling (100 everywhere). first_option scores 100 on
the official closed world because the released manifests always list the answer first, and
chance (about 25) with finebench's shuffled options. all_options names every option at once:
the released substring scorer counts that as correct, finebench does not. {TINY_QWEN} is a
two-layer Qwen2.5-VL with random weights, built offline in seconds: it proves the harness
runs a real model end to end, and it scores near zero because it has learned nothing (its
answers are {TINY_NEW_TOKENS} random tokens). Open-world similarity here uses the offline
MiniLM encoder ({ENCODER}); the default is the release's SigLIP.

A real model, on a GPU machine with the archives prepared:
  finebench eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks finegrained,finegrained_official --batch_size 1 --log_samples --output_path runs/qwen7b
  finebench ingest runs/qwen7b"""


def _model_arguments(model: str, home: Path) -> list[str]:
    if model != TINY_QWEN:
        return ["--model", model]
    folder = home / "demo-model"
    if not (folder / "config.json").is_file():
        build_tiny_qwen2_5_vl(folder)
    return ["--model", "qwen2_5_vl", "--model_args",
            f"pretrained={folder},device=cpu,device_map=cpu,min_pixels={MIN_PIXELS},max_pixels={MAX_PIXELS}",
            "--gen_kwargs", f"max_new_tokens={TINY_NEW_TOKENS}"]


def prepare_demo_data(manifest_source: Path | None, home: Path) -> None:
    data_root = home / "demo-archives"
    done = data_root / ".complete"
    if done.is_file():
        print(f"stand-in archives already in {data_root}")
    else:
        print(f"writing stand-in archives to {data_root}")
        write_archives(data_root, load_manifests(manifest_source), workers=default_workers())
        done.touch()
    print(summary_table(prepare(data_root, manifest_source)))
    for path, status in prepare_fewshot(data_root, manifest_source):
        print(f"{status:>10}  {path}")


def run_demo(manifest_source: Path | None = None, models: Sequence[str] = MODELS) -> list[dict]:
    home = finebench_home()
    prepare_demo_data(manifest_source, home)
    built = []
    for model in models:
        output = home / "demo-runs" / model
        print(f"\n== {model}: lmms-eval --tasks {TASKS}")
        code = run_lmms_eval([*_model_arguments(model, home), "--tasks", TASKS, "--log_samples",
                              "--output_path", str(output)], encoder=ENCODER)
        if code != 0:
            raise SystemExit(f"lmms-eval failed for {model} (exit code {code})")
        for path in ingest(output, home / "demo-results", name=model, family=_family(model)):
            built.append(entries.read(path))
    print("\n" + entries.format_comparison(built))
    print("\n" + EXPLANATION)
    return built


def _family(model: str) -> str:
    return "general MLLM" if model == TINY_QWEN else "reference responder"
