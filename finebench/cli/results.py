"""Commands of the results: ingest (a run -> entries), tables (entries -> the paper's tables) and compare
(two entries, line by line)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Sequence

from finebench.errors import FinebenchError
from finebench.results.entries import FAMILIES, Source
from finebench.results.tables import FORMATS, TABLES
from finebench.scoring.protocols import Protocol

from .arguments import add_output, command, renamed


def add_ingest(commands) -> None:
    ingest = command(
        commands, "ingest", run_ingest, help="turn an lmms-eval run into result entries (one per protocol)",
        description="Build result entries (finebench/results/entries.py, schema version 1) with 95%% bootstrap "
                    "intervals and provenance from an lmms-eval output folder, write them and print them.")
    ingest.add_argument("run", type=Path, help="the lmms-eval --output_path folder (run with --log_samples)")
    add_output(ingest, "where to write (default: $FINEBENCH_HOME/results)", old="--output-dir")
    ingest.add_argument("--name", help="display name of the model (default: its pretrained= argument)")
    ingest.add_argument("--family", choices=FAMILIES, help="model family, for the leaderboard's filters")
    ingest.add_argument("--source", choices=[Source.REPRODUCED, Source.SUBMITTED], type=Source,
                        default=Source.REPRODUCED, help="the kind of entry (default: reproduced)")
    ingest.add_argument("--allow-partial", action="store_true",
                        help="admit a run that lacks lines (the entry is marked partial, and so is its leaderboard "
                             "row); lines of another task, lines twice and unfinished scoring are never admitted")
    ingest.add_argument("--force", action="store_true",
                        help="replace an existing entry of another source or another model id")


def print_written(paths: Sequence[Path]) -> None:
    """Each entry a command wrote, as a table, with where it went."""
    from finebench.results import entries

    for path in paths:
        print(f"{entries.format_table(entries.read(path))}\n  written to {path}\n")


def run_ingest(args: argparse.Namespace) -> None:
    from finebench.home import finebench_home
    from finebench.results.ingest import ingest

    print_written(ingest(args.run, args.output or finebench_home() / "results", args.name, args.family, args.source,
                         allow_partial=args.allow_partial, force=args.force))


def add_tables(commands) -> None:
    tables = command(
        commands, "tables", run_tables, help="rebuild the paper's Tables 1, 2, 6 and 7 from result entries",
        description="Tables in the paper's layout (model groups; seen, unseen and average columns; best in bold, "
                    "second underlined) from any set of result entries.",
        epilog="Examples: finebench tables --entries reported --format latex; "
               "finebench tables --entries reported ~/.cache/finebench/results --compare reported")
    renamed(tables, "--entries", "--source", nargs="+", default=["reported"], metavar="PATH",
            help="entry files or folders; 'reported' is the bundled transcription of the paper")
    tables.add_argument("--table", nargs="+", type=int, choices=sorted(TABLES), default=sorted(TABLES))
    tables.add_argument("--protocol", choices=list(Protocol), type=Protocol, default=Protocol.OFFICIAL)
    tables.add_argument("--format", choices=FORMATS, default="markdown")
    tables.add_argument("--circular", action="store_true",
                        help="print the circular evaluation's table instead: each circular entry's accuracy when all "
                             "four rotations must be right, beside its accuracy over rotations, the same model's plain "
                             "finebench closed-world accuracy and its accuracy by the ground truth's position")
    tables.add_argument("--compare", nargs="+", metavar="PATH",
                        help="print each reproduced cell beside these entries' ('reported': the paper's)")
    tables.add_argument("--plot", type=Path, metavar="PNG",
                        help="also draw each finebench or circular entry's closed-world accuracy by the ground truth's "
                             "position (four bars per model, from the entries' per-line scores) into this PNG")


def run_tables(args: argparse.Namespace) -> None:
    from finebench.harness.tasknames import suite
    from finebench.results import tables

    if args.plot:
        plot_positions(args.entries, args.plot)
    loaded = tables.load_entries(args.entries)
    if args.compare:
        print(tables.compare(loaded, tables.load_entries(args.compare)), end="")
        return
    if args.circular:
        rendered = tables.render_circular(loaded, args.format)
        if not rendered:
            raise FinebenchError(f"no circular entries in {' '.join(map(str, args.entries))}",
                                 f"evaluate with --tasks {suite('circular')} (or {suite('circular', lite=True)}) and "
                                 "ingest that run (finebench ingest RUN)")
        print(rendered, end="")
        return
    rendered = [tables.render(tables.TABLES[number], loaded, args.protocol, args.format) for number in args.table]
    rendered = [text for text in rendered if text]
    if not rendered:
        raise FinebenchError(f"no {args.protocol} entries for tables {args.table} in {args.entries}",
                             "ingest a run (finebench ingest) or use --entries reported")
    print("\n".join(rendered), end="")


def plot_positions(sources: Sequence[str], path: Path) -> None:
    """The position profiles of the entries among `sources` that record one (finebench protocol, ingested with
    per-line scores)."""
    from finebench.results import positions, tables

    profiles = [(positions.label(entry), entry["positions"]) for entry in tables.load_entries(sources)
                if entry.get("positions")]
    if not profiles:
        raise FinebenchError(f"no entry in {', '.join(map(str, sources))} records accuracy by the ground truth's "
                             "position", "ingest a run of the finebench or circular protocol (finebench ingest RUN), "
                                     "then plot that folder")
    print(f"position profiles of {len(profiles)} entries written to {positions.plot(profiles, path)}")


def add_compare(commands) -> None:
    compare = command(
        commands, "compare", run_compare, help="compare two entries line by line (paired bootstrap, McNemar)",
        description="The difference of two entries on the lines both scored, per metric x dataset x split and per "
                    "metric overall: a paired bootstrap 95%% interval, and McNemar's exact test for the accuracies "
                    "(with Holm's correction over the table). Reads each entry's per-line sidecar (lines/ beside "
                    "the entry file), so it works wherever the entries were copied with their lines/ folder.")
    compare.add_argument("entry_a", type=Path, help="an entry file (A)")
    compare.add_argument("entry_b", type=Path, help="an entry file (B)")
    compare.add_argument("--across-settings", action="store_true",
                         help="judge differences even when the entries were evaluated under different settings "
                              "(new tokens, decoding, pixel budget, precision); by default none is called significant")
    compare.add_argument("--disagreements", type=int, default=0, metavar="N",
                         help="also list N closed-world lines where exactly one of them is right, with both answers")


def read_lines(path: Path) -> tuple[dict, dict]:
    """An entry file and its per-line columns, read from the lines/ folder beside it."""
    from finebench.results import entries, lines

    entry = entries.read(path)
    columns = lines.load(entry, lambda name: (path.parent / name).read_bytes(), lambda name: str(path.parent / name))
    if columns is None:
        raise FinebenchError(f"{path} carries no per-line scores (the paper's rows never do; entries ingested before "
                             "finebench recorded them neither)", "ingest its run again: finebench ingest RUN")
    return entry, columns


def run_compare(args: argparse.Namespace) -> None:
    from finebench.results import compare

    (entry_a, columns_a), (entry_b, columns_b) = read_lines(args.entry_a), read_lines(args.entry_b)
    judged, note = compare.settings_verdict(entry_a, entry_b, args.across_settings)
    cells = compare.compare(columns_a, columns_b, judged)
    if not cells:
        raise FinebenchError(f"{args.entry_a} and {args.entry_b} share no scored line",
                             "compare entries of the same subset (both full, or both lite)")
    name = lambda entry: f"{entry['model']['name']} ({entry['protocol']}, {entry.get('subset', 'full')})"
    print(compare.render(cells, name(entry_a), name(entry_b)), end="")
    if note:
        print(f"\n{note}" + ("" if judged else " (--across-settings)"))
    for line in compare.disagreements(columns_a, columns_b)[:args.disagreements]:
        print(f"\n{line['dataset']} {line['split']} {line['sample_id']}: truth {line['ground_truth']!r}\n"
              f"  A ({'right' if line['score_a'] else 'wrong'}): {line['answer_a']!r}\n"
              f"  B ({'right' if line['score_b'] else 'wrong'}): {line['answer_b']!r}")
