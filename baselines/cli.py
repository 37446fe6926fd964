"""`finebench baselines list | run`: the paper's baselines by name."""

from __future__ import annotations

import argparse
import time

from finebench.cli.arguments import add_output, command, positive
from finebench.errors import FinebenchError
from finebench.harness.tasknames import BASELINE_TASKS


def add_commands(commands) -> None:
    baselines = command(commands, "baselines", None, help="the paper's baselines by name: list them, run one")
    actions = baselines.add_subparsers(dest="action", required=True, metavar="ACTION")
    command(actions, "list", run_list, help="the registry: name, family, size, backends, hub id")
    run = command(actions, "run", run_baseline, ("eval",),
                  help="run a baseline through lmms-eval and ingest the result",
                  description="Run a registered baseline on the benchmark (GPU for the MLLMs) and write its result "
                              "entries.")
    run.add_argument("name", help="a name from `finebench baselines list`, e.g. Qwen2.5-VL-7B or SigLIP-L")
    run.add_argument("--backend", choices=("hf", "vllm", "clip"),
                     help="default: hf for MLLMs (vllm where hf is missing), clip for CLIP-like models")
    run.add_argument("--tasks", default=BASELINE_TASKS, help=f"lmms-eval tasks or groups (default: {BASELINE_TASKS})")
    add_output(run, "run folder, empty or new (default: $FINEBENCH_HOME/runs/<name>/<date-time>)")
    run.add_argument("--model-args", default="", help="extra lmms-eval model arguments, e.g. device_map=auto")
    run.add_argument("--encoder", help="text encoder for the open-world similarity")
    run.add_argument("--limit", type=positive, help="lmms-eval --limit, for a quick check")


def run_list(args: argparse.Namespace) -> None:
    from .registry import table

    print(table())


def run_baseline(args: argparse.Namespace) -> None:
    from finebench import extras
    from finebench.cli.results import print_written
    from finebench.harness import evalrun
    from finebench.harness.doctor import preflight_evaluation
    from finebench.home import finebench_home
    from finebench.results.ingest import ingest

    from .registry import get_baseline

    baseline = get_baseline(args.name)
    backend = args.backend or baseline.backends[0]
    if backend == "clip":
        extras.require(("clip",))
    model_arguments = baseline.lmms_eval_arguments(backend, args.model_args)
    # a folder per run by default: the preflight refuses to write a run over another
    output = args.output or finebench_home() / "runs" / baseline.name / time.strftime("%Y%m%d-%H%M%S")
    arguments = [*model_arguments, "--tasks", args.tasks, "--log_samples", "--output_path", str(output)]
    if args.limit:
        arguments += ["--limit", str(args.limit)]
    variables = preflight_evaluation("baselines run", arguments, encoder=args.encoder)
    if evalrun.run_lmms_eval(arguments, args.encoder, variables=variables) != 0:
        raise FinebenchError(f"lmms-eval failed for {baseline.name}", "its log above says why")
    print_written(ingest(output, finebench_home() / "results", baseline.name, baseline.family,
                        parameters=baseline.parameters, model_id=baseline.hub_id))
