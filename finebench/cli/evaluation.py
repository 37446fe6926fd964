"""Commands of the evaluation: eval (lmms-eval with finebench's tasks), journal, tasks-dir, rescore, doctor."""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from finebench.errors import FinebenchError
from finebench.harness.tasknames import BENCHMARK, DEFAULT_GLOB, benchmark_group, rename_legacy

from .arguments import add_output, command, port, positive

EVAL_HELP = f"""usage: finebench eval [--encoder NAME] [--processes N] [--journal DIR | --no-journal] [--no-preflight]
                      [--nnodes N --node-rank R --master-addr HOST [--master-port P]]
                      <lmms-eval arguments>

Runs lmms-eval with finebench's task folder included (no --include_path needed) and, with
--encoder, the text encoder of the open-world similarity (default: the official
google/siglip-base-patch16-256; 'minilm' works offline). --processes N runs N data-parallel
processes through torchrun (one per GPU; on a machine without one, N CPU processes).

Across machines, run it once per machine with the same arguments but --node-rank (0 to N-1):
--nnodes N machines meet at node 0's --master-addr and --master-port (default 29500), each
with --processes N of its own. Under Slurm, `srun --ntasks-per-node=1 finebench eval …` needs
none of them: they are read from the job step. Node 0 writes the results.

Every answer is journaled as it is made (default $FINEBENCH_HOME/journal, or --journal DIR):
after a crash, the same command (into a new or emptied --output_path) generates only what is
missing. --no-journal turns it off; `finebench journal list|clear` shows and deletes journals.

Before the first generation it runs finebench doctor's quick checks (lmms-eval's evaluator,
the task names, the text encoder if an open-world task is selected, the prepared data of the
selected tasks, an output folder that holds no other run); --no-preflight skips them. Without
the model hub it runs with HF_HUB_OFFLINE=1. If scoring fails after generation, the run is
kept and the message says how to finish it with `finebench rescore`. Task names of finebench
0.1 are translated, with a note. Examples:
  finebench eval --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks '{DEFAULT_GLOB}' --log_samples --output_path runs/qwen7b
  finebench eval --processes 8 --model qwen2_5_vl --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct \\
      --tasks '{DEFAULT_GLOB}' --log_samples --output_path runs/qwen7b
  finebench eval --model ground_truth --tasks {benchmark_group(lite=True)} --log_samples --output_path runs/check
  finebench eval --nnodes 2 --node-rank 0 --master-addr node-a --processes 8 --model qwen2_5_vl \\
      --model_args pretrained=Qwen/Qwen2.5-VL-7B-Instruct --tasks '{DEFAULT_GLOB}' --log_samples --output_path runs/x
See `lmms-eval --help` for its own arguments.
"""


def add_eval(commands) -> None:
    # Listed for --help only: main() hands everything after `eval` to run_eval unparsed.
    command(commands, "eval", None, ("eval",), add_help=False,
            help=f"run lmms-eval with the {BENCHMARK}_* tasks included",
            description="finebench eval [--encoder NAME] [--processes N] [--journal DIR | --no-journal] "
                        "[--no-preflight] [--nnodes N --node-rank R --master-addr HOST [--master-port P]] "
                        "<lmms-eval arguments>")


def _own_options() -> argparse.ArgumentParser:
    """finebench eval's own options; everything else on its command line is lmms-eval's."""
    parser = argparse.ArgumentParser(prog="finebench eval", add_help=False, allow_abbrev=False)
    parser.add_argument("--encoder")
    parser.add_argument("--processes", type=positive, default=1)
    parser.add_argument("--no-preflight", dest="preflight", action="store_false")
    parser.add_argument("--journal", type=Path)
    parser.add_argument("--no-journal", dest="use_journal", action="store_false")
    parser.add_argument("--nnodes", type=positive)
    parser.add_argument("--node-rank", type=int)
    parser.add_argument("--master-addr")
    parser.add_argument("--master-port", type=port)
    return parser


def run_eval(arguments: list[str]) -> int:
    """`finebench eval …`: our options first, everything else is lmms-eval's."""
    from finebench import atomic, extras
    from finebench.harness.doctor import check_writable_folder, preflight_evaluation
    from finebench.harness.evalrun import option_value, run_lmms_eval
    from finebench.harness.journal import default_folder
    from finebench.harness.nodes import placement

    if not arguments or arguments[0] in ("-h", "--help"):
        print(EVAL_HELP)
        return 0
    try:
        own, arguments = _own_options().parse_known_args(arguments)
    except SystemExit:
        raise FinebenchError("finebench eval's own options are --encoder NAME, --processes N, --journal DIR, "
                             "--no-journal, --no-preflight, --nnodes N, --node-rank R, --master-addr HOST and "
                             "--master-port P", "see finebench eval --help") from None
    nodes = placement(own.nnodes, own.node_rank, own.master_addr, own.master_port)
    extras.require(("eval",))
    arguments = renamed_tasks(arguments)
    variables = preflight_evaluation("eval", arguments, encoder=own.encoder) if own.preflight else {}
    journal = (own.journal or default_folder()) if own.use_journal else None
    if journal is not None:
        writable = check_writable_folder("journal folder", journal, "--journal (or FINEBENCH_JOURNAL)")
        if writable.blocks:
            raise FinebenchError(f"the journal cannot be written: {writable.found}", f"{writable.fix}, or --no-journal")
        shared = " (keep it where every node sees it: a rerun on other nodes then finds every answer)" \
            if nodes.several else ""
        print(f"finebench eval: answers are journaled in {journal}{shared} (--no-journal: off)", file=sys.stderr)
    output = option_value(arguments, "--output_path")
    run = functools.partial(run_lmms_eval, arguments, own.encoder, variables=variables, processes=own.processes,
                            journal=journal, nodes=nodes)
    if nodes.several:
        print(f"finebench eval: {nodes.describe(own.processes)}", file=sys.stderr)
    if output is None or nodes.rank > 0:  # only node 0 writes into the output folder
        if output is not None:
            print(f"finebench eval: node 0 writes the results into {output}; this node's ranks answer their share",
                  file=sys.stderr)
        return run()
    busy = FinebenchError(f"another finebench eval is writing into {output}",
                          "wait for it, or give this run another --output_path")
    with atomic.exclusive(Path(output) / ".finebench-eval.lock", busy):
        return run()


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


def add_journal(commands) -> None:
    journal = command(commands, "journal", None, help="the generation journal: list the models journaled, clear them",
                      description="Every answer finebench eval gets is journaled as it is made, per model, so a "
                                  "crashed run resumes; these commands show and delete the journals.")
    actions = journal.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = command(actions, "list", run_journal_list, help="one row per model journal: id, answers, size, model")
    clearing = command(actions, "clear", run_journal_clear, help="delete model journals (all without an id)")
    clearing.add_argument("ids", nargs="*", metavar="ID", help="journal ids from `finebench journal list`")
    for parser in (listing, clearing):
        parser.add_argument("--journal", type=Path, metavar="DIR", help="the journal folder (default: "
                                                                         "$FINEBENCH_HOME/journal)")


def run_journal_list(args: argparse.Namespace) -> None:
    from finebench.harness.journal import default_folder, summaries

    folder = args.journal or default_folder()
    rows = summaries(folder)
    if not rows:
        print(f"no journals in {folder}")
        return
    print(f"journals in {folder}:")
    for row in rows:
        torn = f", {row['skipped']} torn lines" if row["skipped"] else ""
        print(f"  {row['id']}  {row['answers']:>7} answers  {row['bytes'] / 2**20:8.1f} MiB{torn}  {row['model']} "
              f"{row['model_args']}")


def run_journal_clear(args: argparse.Namespace) -> None:
    from finebench.harness.journal import clear, default_folder

    folder = args.journal or default_folder()
    cleared = clear(folder, args.ids)
    print(f"deleted {len(cleared)} journal(s) from {folder}" + (f": {', '.join(cleared)}" if cleared else ""))


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
