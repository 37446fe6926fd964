"""The `finebench` command: one entry point; each command is an add_/run_ pair in the module of its idea.

    arguments      how a command is declared, and the arguments every command spells the same way
    data           download, prepare, fewshot, manifests, status, fixtures, data push|pull
    evaluation     eval, journal, tasks-dir, rescore, doctor
    results        ingest, tables
    demo           the offline demo and the GPU check: the whole pipeline at once
    bench          the benchmarks
and, from their own packages: leaderboard/cli.py (leaderboard, submit, worker),
baselines/cli.py (baselines), trainers/cli.py (train).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from finebench.errors import FinebenchError

DESCRIPTION = """\
finebench: fine-grained visual recognition benchmark for multimodal LLMs (the six datasets
of the Fine-R1 paper, seen and unseen classes, closed and open world).

Typical first run:
  finebench prepare --download                      # fetch, verify and prepare the archives
  finebench prepare --data-root ~/data              # or: the archives you already have
  finebench status                                  # what is prepared, and where
  finebench doctor                                  # what would stop a run on this machine

No archives yet? `finebench demo` generates stand-ins and prepares them.
Then: `finebench eval` (lmms-eval), `finebench tables`, `finebench leaderboard`, and
`finebench train data|cot|sft|tapo` to train Fine-R1 or your own model.
Data goes to $FINEBENCH_HOME (default ~/.cache/finebench). The official manifests are
downloaded at a pinned commit and checked by sha256, or read from --manifests DIR
(or $FINEBENCH_MANIFESTS).
"""


def build_parser() -> argparse.ArgumentParser:
    from finebench import __version__
    from finebench.baselines import cli as baselines
    from finebench.leaderboard import cli as leaderboard
    from finebench.trainers import cli as trainers

    from . import bench, data, demo, evaluation, results

    parser = argparse.ArgumentParser(prog="finebench", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"finebench {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in (data.add_download, data.add_prepare, data.add_fewshot_command, data.add_manifests_command, data.add_status,
                evaluation.add_doctor, data.add_data_sharing, data.add_fixtures, demo.add_demo, demo.add_gpu_check, evaluation.add_eval,
                evaluation.add_journal, evaluation.add_tasks_dir, evaluation.add_rescore,
                results.add_ingest, results.add_tables, results.add_compare, leaderboard.add_commands,
                baselines.add_commands, trainers.add_commands, bench.add_bench):
        add(commands)
    return parser


def command_name(argv: Sequence[str]) -> str:
    """'train sft' for `finebench train sft --model …`: the words before the first option."""
    words = []
    for word in argv:
        if word.startswith("-") or len(words) == 2:
            break
        words.append(word)
    return " ".join(words) or "finebench"


def main(argv: Sequence[str] | None = None) -> int:
    from finebench import extras

    argv = list(sys.argv[1:] if argv is None else argv)
    name = command_name(argv)
    try:
        if argv[:1] == ["eval"]:  # everything after it belongs to lmms-eval
            from .evaluation import run_eval

            return run_eval(argv[1:])
        args = build_parser().parse_args(argv)
        extras.require(args.extras)
        return args.handler(args) or 0
    except FinebenchError as error:
        print(f"finebench {name}: {error}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] == "finebench":
            raise  # a bug of ours, not an install problem
        print(f"finebench {name}: a module it needs is missing ({error}); `finebench doctor` shows what is "
              f"installed\n  fix: {extras.install_command(('dev',))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nfinebench {name}: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
