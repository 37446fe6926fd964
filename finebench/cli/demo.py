"""`finebench demo`: the whole pipeline offline, in a home of its own."""

from __future__ import annotations

import argparse

from finebench.errors import FinebenchError

from .arguments import add_manifests, command


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
