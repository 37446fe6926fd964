"""`finebench gpu-check`: every GPU path of finebench, once, on a tiny random model, in minutes.

Meant for a GPU machine with no network (a fresh cluster node, a new CUDA or vLLM release):
it builds the tiny random Qwen2.5-VL, prepares stand-in data (or uses a prepared home),
runs the lite benchmark through lmms-eval's hf backend (qwen2_5_vl) and its vllm backend,
compares their entries, trains two TAPO steps with vLLM colocated and one SFT step under
DeepSpeed ZeRO-3, and prints one table: what ran, how long it took, what was skipped and
why. Each step runs in a child process with its log in the work folder, and a failure is
a row, not the end of the check. With --cpu, every step that can run on a CPU runs (the
hf backend, TAPO with HF generation, SFT without DeepSpeed): the test suite runs that.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from finebench.errors import FinebenchError
from finebench.harness import guard
from finebench.harness.evalrun import PathLinks, run_lmms_eval
from finebench.harness.tasknames import benchmark_group
from finebench.harness.tinymodel import MAX_PIXELS, MIN_PIXELS, build_tiny_qwen2_5_vl
from finebench.home import HOME_VARIABLE

NEW_TOKENS = 16  # a random model babbles: a short babble is enough to exercise generation


@dataclass
class Step:
    name: str
    status: str  # ran | FAILED | skipped
    seconds: float
    note: str


class Check:
    """The steps run so far, and where their logs go."""

    def __init__(self, workdir: Path, cpu: bool, limit: int | None):
        self.workdir, self.cpu, self.limit = workdir, cpu, limit
        self.device = "cpu" if cpu else "cuda"
        self.steps: list[Step] = []

    def run(self, name: str, action: Callable[[], str]) -> bool:
        """Run one step; its note is what `action` returns, or why it failed."""
        started = time.perf_counter()
        try:
            note, status = action(), "ran"
        except (FinebenchError, subprocess.CalledProcessError, OSError) as error:
            note, status = str(error).splitlines()[0][:200], "FAILED"
        self.steps.append(Step(name, status, time.perf_counter() - started, note))
        return status == "ran"

    def skip(self, name: str, why: str) -> None:
        self.steps.append(Step(name, "skipped", 0.0, why))

    def child(self, slug: str, command: list[str], environment: dict | None = None) -> None:
        """A finebench or accelerate command in a child process, its output in <workdir>/<slug>.log."""
        log = self.workdir / f"{slug}.log"
        with open(log, "w") as handle:
            code = guard.call(command, stdout=handle, stderr=subprocess.STDOUT,
                              env={**os.environ, **(environment or {})})
        if code != 0:
            raise FinebenchError(f"exit code {code}, see {log}")


def _stand_in_home(workdir: Path, manifest_source: Path | None, home: Path) -> str:
    from finebench.data.fewshot import prepare_fewshot
    from finebench.data.fixtures import default_workers, write_archives
    from finebench.data.manifests import load_manifests
    from finebench.data.prepare import prepare

    write_archives(workdir / "archives", load_manifests(manifest_source), workers=default_workers(), progress=False)
    prepare(workdir / "archives", manifest_source, home=home, progress=False)
    prepare_fewshot(workdir / "archives", manifest_source, datasets=["bird"], seeds=[1], home=home)
    return f"stand-in archives prepared in {home}"


def _lite_benchmark(check: Check, model: Path, home: Path, backend: str) -> Path:
    output = check.workdir / f"lite-{backend}"
    with PathLinks() as links:
        location = links.carry(model)
        if backend == "hf":
            arguments = ["--model", "qwen2_5_vl", "--model_args",
                         f"pretrained={location},device={check.device},device_map={check.device},"
                         f"min_pixels={MIN_PIXELS},max_pixels={MAX_PIXELS}"]
        else:  # vllm: one GPU, a sliver of its memory, no CUDA graphs to capture for a two-layer model
            arguments = ["--model", "vllm", "--model_args",
                         f"model={location},tensor_parallel_size=1,gpu_memory_utilization=0.2,"
                         f"max_model_len=4096,enforce_eager=True,trust_remote_code=False"]
        arguments += ["--tasks", benchmark_group(lite=True), "--gen_kwargs", f"max_new_tokens={NEW_TOKENS}",
                      "--log_samples", "--output_path", str(output)]
        if check.limit:
            arguments += ["--limit", str(check.limit)]
        code = run_lmms_eval(arguments, encoder="minilm", home=home, log=check.workdir / f"lite-{backend}.log")
    if code != 0:
        raise FinebenchError(f"lmms-eval exited with {code}, see {check.workdir / f'lite-{backend}.log'}")
    return output


def _entry_summary(run: Path) -> dict[str, float]:
    from finebench.harness.runs import read_run
    from finebench.results.ingest import build_entries

    return {f"{entry['protocol']} {metric} {dataset} {split}": cell["value"]
            for entry in build_entries(read_run(run), name="tiny") for metric, table in entry["scores"].items()
            for dataset, cells in table.items() for split, cell in cells.items()}


def _sft_rows(home: Path, path: Path) -> Path:
    """A few CoT records on the stand-in k-shot images, in TRL's prompt/completion format."""
    import io

    import pyarrow.parquet as pq
    from PIL import Image

    from finebench.data.fewshot import fewshot_path
    from finebench.trainers.cot_import import to_trl

    rows = pq.read_table(fewshot_path("bird", 4, 1, home)).to_pylist()[:4]
    records = []
    for index, row in enumerate(rows):
        image = path.parent / f"sft-{index}.jpg"
        Image.open(io.BytesIO(row["image"]["bytes"])).save(image)
        record = {"messages": [{"role": "system", "content": "Think, then answer."},
                               {"role": "user", "content": "<image>What kind of bird is this?"},
                               {"role": "assistant", "content": f"<think>a bird</think><answer>{row['class_name']}"
                                                                f"</answer>"}]}
        records.append(to_trl(record, image, "bird", row["class_name"]))
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def gpu_check(manifest_source: Path | None = None, cpu: bool = False, home: Path | None = None,
              workdir: Path | None = None, limit: int | None = None) -> tuple[list[Step], str]:
    """Run every step; return them and the table."""
    workdir = Path(workdir or tempfile.mkdtemp(prefix="finebench-gpu-check-"))
    workdir.mkdir(parents=True, exist_ok=True)
    gpu = _gpu_name()
    if not cpu and gpu is None:
        raise FinebenchError("no CUDA GPU here", "run finebench gpu-check --cpu for the parts a CPU can run")
    check = Check(workdir, cpu, limit)
    model = workdir / "tiny-qwen2.5-vl"
    check.run("tiny random Qwen2.5-VL", lambda: f"built in {build_tiny_qwen2_5_vl(model)}")
    if home is None:
        home = workdir / "home"
        if not check.run("prepared data", lambda: _stand_in_home(workdir, manifest_source, home)):
            return check.steps, render(check.steps, workdir, gpu)
    _benchmark_steps(check, model, home)
    _training_steps(check, model, home)
    return check.steps, render(check.steps, workdir, gpu)


def _benchmark_steps(check: Check, model: Path, home: Path) -> None:
    """The lite benchmark through both lmms-eval backends, and whether their entries agree."""
    runs: dict[str, Path] = {}
    lines = f"{check.limit} lines per task" if check.limit else "600 lines x 2 worlds"

    def benchmark(backend: str) -> str:
        runs[backend] = _lite_benchmark(check, model, home, backend)
        return lines

    check.run(f"lite benchmark, lmms-eval hf backend ({check.device})", lambda: benchmark("hf"))
    if check.cpu or not _installed("vllm"):
        check.skip("lite benchmark, lmms-eval vllm backend", "needs a GPU" if check.cpu else "vLLM is not installed")
    else:
        check.run("lite benchmark, lmms-eval vllm backend", lambda: benchmark("vllm"))
    if {"hf", "vllm"} <= runs.keys():
        check.run("hf and vllm entries agree", lambda: _agreement(runs["hf"], runs["vllm"]))
    else:
        check.skip("hf and vllm entries agree", "needs both backends' runs")


def _training_steps(check: Check, model: Path, home: Path) -> None:
    """Two TAPO steps (vLLM colocated on a GPU) and one SFT step (DeepSpeed ZeRO-3 on a GPU)."""
    environment = {HOME_VARIABLE: str(home)}
    finebench = [sys.executable, "-m", "finebench"]
    data = check.workdir / "tapo-data"
    if not check.run("TAPO data (bird)", lambda: check.child("tapo-data", [
            *finebench, "train", "data", "--datasets", "bird", "--similarity", "text:minilm", "--output", str(data)],
            environment) or "triplets and rows from the k-shot set"):
        return
    colocate = not check.cpu and _installed("vllm")
    tapo = [*finebench, "train", "tapo", "--model", str(model), "--data", str(data), "--output",
            str(check.workdir / "tapo"), "--rollouts", "2:2", "--batch-size", "4", "--grad-accum", "1",
            "--steps-per-generation", "1", "--max-steps", "2", "--max-completion-length", "8", "--pixels",
            f"{MIN_PIXELS}:{MAX_PIXELS}", "--max-resampling-rounds", "1", "--save-steps", "100",
            "--vllm", "colocate" if colocate else "off", *(["--cpu"] if check.cpu else [])]
    why = "vLLM in the trainer's process" if colocate else f"HF generate: {'CPU' if check.cpu else 'no vLLM'}"
    check.run(f"TAPO, 2 steps, {'vLLM colocated' if colocate else 'HF generate'}",
              lambda: check.child("tapo", tapo, environment) or why)
    zero3 = not check.cpu and _installed("deepspeed")
    rows = check.workdir / "cot.jsonl"
    sft = [*finebench, "train", "sft", "--model", str(model), "--data", str(rows), "--output",
           str(check.workdir / "sft"), "--max-steps", "1", "--batch-size", "2", "--grad-accum", "1"]
    why = "accelerate launch, the zero3 config" if zero3 else f"no DeepSpeed: {'CPU' if check.cpu else 'not installed'}"

    def sft_step() -> str:
        _sft_rows(home, rows)
        check.child("sft", _sft_command(sft, zero3, check.cpu), environment)
        return why

    check.run(f"SFT, 1 step, {'DeepSpeed ZeRO-3' if zero3 else 'no DeepSpeed'}", sft_step)


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _sft_command(sft: list[str], zero3: bool, cpu: bool) -> list[str]:
    if not zero3:
        return [*sft, *(["--cpu"] if cpu else [])]
    from finebench.trainers.cli import ACCELERATE_CONFIGS

    return [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(ACCELERATE_CONFIGS / "zero3.yaml"),
            "--num_processes", "1", *sft[1:]]  # accelerate launch runs the module the rest names


def _agreement(hf: Path, vllm: Path) -> str:
    first, second = _entry_summary(hf), _entry_summary(vllm)
    shared = first.keys() & second.keys()
    if not shared:
        raise FinebenchError("the two runs share no entry cell")
    worst = max(abs(first[key] - second[key]) for key in shared)
    return f"{len(shared)} cells, largest difference {worst:.2f} points (greedy decoding of one model)"


def _gpu_name() -> str | None:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None


def render(steps: list[Step], workdir: Path, gpu: str | None) -> str:
    width = max(len(step.name) for step in steps)
    lines = [f"finebench gpu-check on {gpu or 'the CPU'}; logs in {workdir}",
             f"{'step':<{width}}  {'status':<8}{'seconds':>8}  note"]
    lines += [f"{step.name:<{width}}  {step.status:<8}{step.seconds:>8.1f}  {step.note}" for step in steps]
    total = sum(step.seconds for step in steps)
    failed = [step.name for step in steps if step.status == "FAILED"]
    lines.append(f"total {total:.0f} s; " + (f"FAILED: {', '.join(failed)}" if failed else "nothing failed"))
    return "\n".join(lines)
