"""Whole-pipeline runs: `finebench demo` (offline, in a home of its own) and `finebench gpu-check`."""

from __future__ import annotations

import argparse
from pathlib import Path

from finebench.errors import FinebenchError

from .arguments import add_manifests, command, positive


def add_demo(commands) -> None:
    demo = command(
        commands, "demo", run_demo, ("eval",),
        help="the whole pipeline offline: stand-in archives, prepare, lmms-eval, result entries",
        description="Generate stand-in archives, prepare them, run the lite benchmark through lmms-eval for the "
                    "reference responders and a tiny random Qwen2.5-VL, ingest and print the results. Everything "
                    "goes to a home of its own, $FINEBENCH_HOME/demo: your prepared data is never touched.")
    add_manifests(demo)
    demo.add_argument("--models", nargs="+", metavar="MODEL",
                      help="a subset of the demo's models (ground_truth, first_option, random_option, all_options, "
                           "tiny_qwen2_5_vl; default: all)")


def run_demo(args: argparse.Namespace) -> None:
    from finebench.demo import MODELS
    from finebench.demo import run_demo as demo

    unknown = sorted(set(args.models or ()) - set(MODELS))
    if unknown:
        raise FinebenchError(f"unknown demo models {unknown}", f"choose among {', '.join(MODELS)}")
    demo(args.manifests, args.models or MODELS)


def add_gpu_check(commands) -> None:
    check = command(
        commands, "gpu-check", run_gpu_check, ("eval", "train"),
        help="every GPU path once on a tiny random model: lmms-eval's hf and vllm backends, TAPO with vLLM, "
             "SFT under DeepSpeed ZeRO-3",
        description="On a GPU machine (no network needed): build the tiny random Qwen2.5-VL, prepare stand-in "
                    "data, run the lite benchmark through lmms-eval's hf and vllm backends and compare their "
                    "entries, train two TAPO steps with vLLM colocated and one SFT step under DeepSpeed ZeRO-3; "
                    "print what ran, how long it took and what was skipped. Exit status 1 when a step failed.")
    add_manifests(check)
    check.add_argument("--cpu", action="store_true", help="run the steps a CPU can run (the others are skipped)")
    check.add_argument("--home", type=Path, help="a prepared FINEBENCH_HOME to use instead of stand-ins")
    check.add_argument("--workdir", type=Path, help="keep the model, runs and logs here (default: a temporary folder)")
    check.add_argument("--limit", type=positive, help="lines per task of the lite benchmark (default: all 50)")


def run_gpu_check(args: argparse.Namespace) -> int:
    from finebench.gpucheck import gpu_check

    steps, table = gpu_check(args.manifests, args.cpu, args.home, args.workdir, args.limit)
    print(table)
    return 1 if any(step.status == "FAILED" for step in steps) else 0

