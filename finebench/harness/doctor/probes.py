"""Checks that import lmms-eval, torch or a text encoder, each in a child process with a time limit, so a hang
or a crash is a finding, not the end of doctor: the evaluator and the task index, the GPUs; their slow answers
remembered per installed environment. `python -m finebench.harness.doctor.probes KIND ARGUMENT` is the child."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from finebench import extras
from finebench.errors import FinebenchError
from finebench.home import probe_cache_dir

from .check import FAIL, INFO, OK, WARN, Check

PROBE_TIMEOUT = 180.0  # importing lmms-eval and torch takes 5-10 s here; a hang must not hang doctor


def _probe_lmms_eval(index_tasks: bool) -> dict:
    """Run in a child process: can lmms-eval evaluate here, does it see finebench's tasks, which GPUs."""
    report: dict = {}
    started = time.perf_counter()
    try:
        import lmms_eval.evaluator as evaluator

        # The code that filelock 4.3 broke runs after the model is loaded; run it now instead.
        getattr(evaluator, "_enable_reentrant_filelocks", lambda: None)()
        report["evaluator"] = {"ok": True, "seconds": round(time.perf_counter() - started, 1)}
    except Exception as error:  # any import failure is the finding
        report["evaluator"] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    if index_tasks and report["evaluator"]["ok"]:
        from lmms_eval.tasks import TaskManager

        from ..taskgen import tasks_dir
        from ..tasknames import all_names

        expected = set(all_names())
        indexed = set(TaskManager("ERROR").all_tasks)  # as plain `lmms-eval --tasks …` sees them (the shim)
        plain = expected <= indexed
        if not plain:
            indexed = set(TaskManager("ERROR", include_path=str(tasks_dir())).all_tasks)
        report["tasks"] = {"expected": len(expected), "missing": sorted(expected - indexed)[:5],
                           "missing_count": len(expected - indexed), "folder": str(tasks_dir()),
                           "plain_lmms_eval": plain, "names": sorted(indexed)}
    try:
        import torch

        report["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda,
                           "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                           if torch.cuda.is_available() else []}
    except Exception as error:
        report["torch"] = {"error": f"{type(error).__name__}: {error}"}
    return report


def _probe_encoder(name: str) -> dict:
    from finebench.scoring.encoders import load_encoder

    started = time.perf_counter()
    vector = load_encoder(name).embed(["a photo of a Laysan Albatross"])
    return {"dimensions": int(vector.shape[1]), "seconds": round(time.perf_counter() - started, 1)}


def run_probe(kind: str, argument: str, timeout: float, environment: dict | None = None) -> dict:
    """Run one probe in a child process; its JSON, or {"error": …} on a crash or when out of time."""
    command = [sys.executable, "-m", __name__, kind, argument]  # this module, as the child
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(environment or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f} s"}
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit code {result.returncode}: {last[:300]}"}
    return json.loads(lines[-1])


def environment_key() -> str:
    """What the evaluator probe's answer depends on: this environment (its prefix and Python, whichever name
    started it: python, python3, a script's shebang), every installed distribution's version, and finebench's
    own task names (an editable install changes them without a version)."""
    from importlib import metadata

    from ..tasknames import all_names

    installed = sorted(f"{distribution.metadata['Name']}=={distribution.version}"
                       for distribution in metadata.distributions())
    return hashlib.sha256("\n".join([sys.prefix, sys.version, *installed, *all_names()]).encode()).hexdigest()[:16]


def evaluator_report() -> dict:
    """The evaluator probe with lmms-eval's task index, remembered per environment (probe_cache_dir):
    importing lmms-eval costs seconds and gives the same answer until something installed changes."""
    cached = probe_cache_dir() / f"lmms-eval-{environment_key()}.json"
    return remembered(cached, lambda: run_probe("lmms-eval", "tasks", PROBE_TIMEOUT),
                      lambda report: report.get("evaluator", {}).get("ok"))


def remembered(cached: Path, probe: Callable[[], dict], keep: Callable[[dict], bool]) -> dict:
    """A slow probe's report, remembered in `cached` when `keep` says it may be. Processes that start at once
    (a worker per GPU) wait for the one probing, rather than all loading the same thing on the same cores and
    running out of time together; each then reads its report."""
    from finebench import atomic

    with contextlib.ExitStack() as held:
        if cached.is_file():
            return json.loads(cached.read_text("utf-8"))
        try:
            held.enter_context(atomic.exclusive(cached.with_name(cached.name + ".lock"), None))
        except OSError:  # an unwritable home is a check of its own; without the lock each process probes
            return probe()
        if cached.is_file():  # probed by the process this one waited for
            return json.loads(cached.read_text("utf-8"))
        report = probe()
        if keep(report):
            try:
                atomic.write_json(cached, report)
            except (OSError, FinebenchError):
                pass  # without the cache the probe just runs again
        return report


def lmms_eval_checks(report: dict, tasks_checked: bool) -> list[Check]:
    version = extras.installed_version("lmms-eval")
    if version is None:
        return [Check("lmms-eval", FAIL, "not installed", extras.install_command(("eval",)))]
    evaluator = report.get("evaluator") or {"ok": False, "error": report.get("error", "no report")}
    if not evaluator["ok"]:
        checks = [Check("lmms-eval", FAIL, f"lmms-eval {version}: its evaluator fails: {evaluator['error']}",
                        "install the tested versions: " + extras.install_command(("eval",)))]
    else:
        checks = [Check("lmms-eval", OK, f"lmms-eval {version}: the evaluator imports and sets up "
                                         f"({evaluator['seconds']} s)")]
    tasks = report.get("tasks")
    if tasks_checked and tasks is not None:
        if tasks["missing_count"]:
            checks.append(Check("tasks", FAIL, f"{tasks['missing_count']} of {tasks['expected']} finebench tasks "
                                               f"and groups not indexed by lmms-eval, e.g. {tasks['missing']}",
                                "reinstall finebench (its task YAMLs are package data): "
                                + extras.install_command(("eval",))))
        elif tasks["plain_lmms_eval"]:
            checks.append(Check("tasks", OK, f"all {tasks['expected']} finebench tasks and groups found by plain "
                                             "lmms-eval (through finebench's task shim)"))
        else:
            checks.append(Check("tasks", WARN, f"all {tasks['expected']} finebench tasks and groups indexed with "
                                               f"--include_path {tasks['folder']}, not by plain lmms-eval",
                                "use finebench eval, or pass lmms-eval that --include_path (the shim is off or this "
                                "lmms-eval version is untested)"))
    return checks


def gpu_checks(report: dict) -> list[Check]:
    torch_report = report.get("torch", {})
    if "error" in torch_report:
        return [Check("GPU", FAIL, f"torch does not import: {torch_report['error']}",
                      extras.install_command(("eval",)))]
    if not torch_report:
        return []
    gpus = torch_report["gpus"]
    cuda = f"CUDA {torch_report['cuda_build']} build" if torch_report["cuda_build"] else "CPU build"
    vllm = extras.installed_version("vllm")
    vllm_text = f"vLLM {vllm}" if vllm else "vLLM not installed (the hf backend works without it)"
    if gpus:
        return [Check("GPU", OK, f"{len(gpus)} × {gpus[0]}; torch {torch_report['version']} ({cuda}); {vllm_text}")]
    return [Check("GPU", INFO, f"no CUDA GPU; torch {torch_report['version']} ({cuda}); {vllm_text}",
                  "real models evaluate slowly on a CPU; the demo and the tests need no GPU")]


def _probe_main(arguments: Sequence[str]) -> None:
    kind, argument = arguments
    try:
        report = _probe_lmms_eval(argument == "tasks") if kind == "lmms-eval" else _probe_encoder(argument)
    except FinebenchError as error:
        report = {"error": error.problem}
    except Exception as error:  # the child's whole job is to turn failures into findings
        report = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
    print(json.dumps(report))


if __name__ == "__main__":
    _probe_main(sys.argv[1:])
