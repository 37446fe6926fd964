"""Commands of the evaluation: eval (lmms-eval with finebench's tasks), tasks-dir, rescore, doctor."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from finebench.errors import FinebenchError
from finebench.harness.tasknames import BENCHMARK, DEFAULT_GLOB, benchmark_group, rename_legacy

from .arguments import add_output, command, positive

EVAL_HELP = f"""usage: finebench eval [--encoder NAME] [--processes N] [--no-preflight] <lmms-eval arguments>

Runs lmms-eval with finebench's task folder included (no --include_path needed) and, with
--encoder, the text encoder of the open-world similarity (default: the official
google/siglip-base-patch16-256; 'minilm' works offline). --processes N runs N data-parallel
processes through `accelerate launch` (one per GPU; on a machine without one, N CPU
processes). Before the first generation it runs finebench doctor's quick checks (lmms-eval's
evaluator, the task names, the prepared data of the selected tasks, writable folders);
--no-preflight skips them. Task names of finebench 0.1 are translated, with a note. Examples:
  finebench eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks '{DEFAULT_GLOB}' --log_samples --output_path runs/qwen7b
  finebench eval --processes 8 --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks '{DEFAULT_GLOB}' --log_samples --output_path runs/qwen7b
  finebench eval --model ground_truth --tasks {benchmark_group(lite=True)} --log_samples --output_path runs/check
See `lmms-eval --help` for its own arguments.
"""


def add_eval(commands) -> None:
    # Listed for --help only: main() hands everything after `eval` to run_eval unparsed.
    command(commands, "eval", None, ("eval",), add_help=False,
            help=f"run lmms-eval with the {BENCHMARK}_* tasks included",
            description="finebench eval [--encoder NAME] [--processes N] [--no-preflight] <lmms-eval arguments>")


def _own_options() -> argparse.ArgumentParser:
    """finebench eval's own options; everything else on its command line is lmms-eval's."""
    parser = argparse.ArgumentParser(prog="finebench eval", add_help=False, allow_abbrev=False)
    parser.add_argument("--encoder")
    parser.add_argument("--processes", type=positive, default=1)
    parser.add_argument("--no-preflight", dest="preflight", action="store_false")
    return parser


def run_eval(arguments: list[str]) -> int:
    """`finebench eval …`: our two options first, everything else is lmms-eval's."""
    from finebench import extras
    from finebench.harness.doctor import preflight_evaluation
    from finebench.harness.evalrun import run_lmms_eval

    if not arguments or arguments[0] in ("-h", "--help"):
        print(EVAL_HELP)
        return 0
    try:
        own, arguments = _own_options().parse_known_args(arguments)
    except SystemExit:
        raise FinebenchError("finebench eval's own options are --encoder NAME, --processes N and --no-preflight",
                             "see finebench eval --help") from None
    extras.require(("eval",))
    arguments = renamed_tasks(arguments)
    if own.preflight:
        preflight_evaluation("eval", arguments)
    return run_lmms_eval(arguments, own.encoder, processes=own.processes)


def renamed_tasks(arguments: list[str]) -> list[str]:
    """lmms-eval arguments with finebench 0.1's task names in --tasks replaced by today's, saying so."""
    from finebench.harness.evalrun import option_value, with_option

    tasks = option_value(arguments, "--tasks")
    if tasks is None:
        return arguments
    renamed, notes = rename_legacy(tasks)
    for note in notes:
        print(f"finebench eval: {note} (finebench 0.2 renamed it; plain lmms-eval knows only the new name)",
              file=sys.stderr)
    return with_option(arguments, "--tasks", renamed) if notes else arguments


def add_tasks_dir(commands) -> None:
    command(commands, "tasks-dir", run_tasks_dir, help="print the task folder, for lmms-eval --include_path")


def run_tasks_dir(args: argparse.Namespace) -> None:
    from finebench.harness.taskgen import tasks_dir

    print(tasks_dir())


def add_rescore(commands) -> None:
    rescore = command(
        commands, "rescore", run_rescore, ("eval",),
        help="recompute every metric of an lmms-eval run without generating again",
        description="Read the samples an lmms-eval run logged, score them again (e.g. with another text encoder) "
                    "and write a new output folder that `finebench ingest` reads.")
    rescore.add_argument("run", type=Path, help="the lmms-eval --output_path folder (run with --log_samples)")
    add_output(rescore, "folder for the rescored run", required=True)
    rescore.add_argument("--encoder", help="text encoder for the open-world similarity (default: $FINEBENCH_ENCODER "
                                           "or google/siglip-base-patch16-256; 'minilm' works offline)")


def run_rescore(args: argparse.Namespace) -> None:
    from finebench.harness.rescore import rescore

    print(f"rescored run written to {rescore(args.run, args.output, args.encoder)}")


def add_doctor(commands) -> None:
    doctor = command(
        commands, "doctor", run_doctor,
        help="check this machine before a run: versions, lmms-eval, data, encoder, GPU, storage",
        description="Check everything a run needs and print one row per finding (✓ fine, ✗ blocker, ! warning, "
                    "· for information) with the fix. Exit status 1 when there is a blocker.")
    doctor.add_argument("--encoder", help="the text encoder to try (default: $FINEBENCH_ENCODER or the official "
                                          "google/siglip-base-patch16-256)")
    doctor.add_argument("--json", action="store_true", help="print the findings as JSON, for scripts")
    doctor.add_argument("--timeout", type=float, default=180, help="seconds each slow check may take (default 180)")


def run_doctor(args: argparse.Namespace) -> int:
    from finebench.harness.doctor import as_json, diagnose, render
    from finebench.leaderboard.settings import storage_locations

    checks = diagnose(args.encoder, args.timeout, storage_locations())
    print(as_json(checks) if args.json else render(checks))
    return 1 if any(check.blocks for check in checks) else 0
