"""`finebench tables`: the paper's Tables 1, 2, 6 and 7 rebuilt from result entries, and the circular
evaluation's own table (`--circular`).

Rows are grouped as in the paper (CLIP models, general MLLMs, reasoning MLLMs), columns
are the six datasets' seen and unseen figures with their averages and the overall mean;
the best figure of each column is bold and the second best underlined. Output as
Markdown, LaTeX, CSV or TSV. `--compare reported` lines every reproduced cell up with
the reported one and says whether the reported value lies inside the entry's interval.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Callable, Iterable, Sequence

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.errors import FinebenchError
from finebench.scoring.protocols import Protocol

from . import entries

DATASET_TITLES = {"aircraft": "Air.", "bird": "Bird", "car": "Car", "dog": "Dog", "flower": "Flower", "pet": "Pet"}
GROUPS = (("CLIP Models", {"CLIP-like"}), ("General MLLMs", {"general MLLM"}),
          ("Reasoning MLLMs", {"reasoning MLLM", "Fine-R1"}), ("Reference responders", {"reference responder"}),
          ("Other models", {None}))
FORMATS = ("markdown", "latex", "csv", "tsv")


def _in_table(number: int) -> Callable[[dict], bool]:
    return lambda entry: number in entry.get("provenance", {}).get("paper_tables", [number])


@dataclass(frozen=True)
class TableSpec:
    number: int
    metric: str
    caption: str
    grouped: bool
    includes: Callable[[dict], bool]


TABLES = {
    1: TableSpec(1, "closed_accuracy", "Closed-world FGVR evaluations in terms of accuracy (%).", True,
                 lambda entry: 7 not in entry.get("provenance", {}).get("paper_tables", [])),
    2: TableSpec(2, "open_similarity", "Open-world FGVR evaluations in terms of relative semantic similarity (%).",
                 True, _in_table(2)),
    6: TableSpec(6, "open_inclusion", "Open-world FGVR evaluations in terms of text inclusion (%).", True,
                 _in_table(6)),
    7: TableSpec(7, "closed_accuracy", "Closed-world FGVR evaluations in terms of accuracy (%) on openPangu-VL-7B.",
                 False, lambda entry: 7 in entry.get("provenance", {}).get("paper_tables", [])),
}
COLUMNS = [(split, dataset) for split in SPLITS for dataset in (*DATASET_KEYS, "average")] + [("mean", "average")]


def reported_dir() -> Path:
    return Path(str(resources.files("finebench.results.reported")))


def load_entries(sources: Iterable[Path | str], problems: list[str] | None = None) -> list[dict]:
    """Entries from files and folders ("reported" names the bundled transcription of the paper).

    An unreadable entry raises, unless `problems` is given: then it is noted there ("name: why") and
    skipped, so one bad file cannot take a long-running reader such as the leaderboard down.
    """
    loaded = []
    for source in sources:
        path = reported_dir() if str(source) == "reported" else Path(source)
        if path.is_dir():
            files = sorted(p for p in path.glob("*.json") if not p.name.startswith("tables_"))
        elif path.is_file():
            files = [path]
        else:
            raise FinebenchError(f"no result entries at {path}", "pass entry files or folders, or 'reported'")
        for file in files:
            if problems is None:
                loaded.append(entries.read(file))
                continue
            try:
                loaded.append(entries.read(file))
            except Exception as error:  # noted for the caller to show, whatever went wrong with this one file
                problems.append(f"{file.name}: {error}")
    return loaded


def cell_value(entry: dict, metric: str, split: str, dataset: str) -> dict | None:
    scores = entry["scores"].get(metric, {})
    if dataset == "average":
        return scores.get("average", {}).get(split)
    return scores.get(dataset, {}).get(split)


def _sort_key(number: int) -> Callable[[dict], tuple]:
    def key(entry: dict) -> tuple:
        order = entry.get("provenance", {}).get("paper_order", {}).get(str(number))
        return (order is None, order if order is not None else 0, entry["model"]["name"], entry["protocol"])
    return key


def rows_of(spec: TableSpec, all_entries: Sequence[dict], protocol: str) -> list[tuple[str, list[dict]]]:
    """(group title, entries) in the paper's order; empty groups left out."""
    chosen = [e for e in all_entries if e["protocol"] == protocol and spec.metric in e["scores"] and spec.includes(e)]
    chosen.sort(key=_sort_key(spec.number))
    if not spec.grouped:
        return [("", chosen)] if chosen else []
    groups = []
    for title, families in GROUPS:
        members = [e for e in chosen if e["model"].get("family") in families]
        if members:
            groups.append((title, members))
    return groups


def _ranks(spec: TableSpec, members: Sequence[dict]) -> dict[tuple[int, int], int]:
    """(row, column) -> 1 for the best value of the column, 2 for the second best."""
    ranks = {}
    for column, (split, dataset) in enumerate(COLUMNS):
        values = sorted({round(cell["value"], 2) for e in members
                         if (cell := cell_value(e, spec.metric, split, dataset))}, reverse=True)
        for row, entry in enumerate(members):
            cell = cell_value(entry, spec.metric, split, dataset)
            if cell and values and round(cell["value"], 2) == values[0]:
                ranks[row, column] = 1
            elif cell and len(values) > 1 and round(cell["value"], 2) == values[1]:
                ranks[row, column] = 2
    return ranks


def _label(entry: dict) -> str:
    label = entry["model"]["name"]
    if entry["source"] != "reported":
        label += f" [{entry['source']}{', ' + entry['subset'] if entry.get('subset') == 'lite' else ''}]"
    return label


def table_rows(spec: TableSpec, all_entries: Sequence[dict], protocol: str) -> list[tuple[str, str, list, list]]:
    """(group, label, values, ranks) for every row of the table."""
    groups = rows_of(spec, all_entries, protocol)
    members = [entry for _, group in groups for entry in group]
    ranks = _ranks(spec, members)
    rows, index = [], 0
    for title, group in groups:
        for entry in group:
            values = [cell_value(entry, spec.metric, split, dataset) for split, dataset in COLUMNS]
            rows.append((title, _label(entry), [v["value"] if v else None for v in values],
                         [ranks.get((index, column)) for column in range(len(COLUMNS))]))
            index += 1
    return rows


def _header() -> list[str]:
    names = [DATASET_TITLES[d] if d != "average" else "Avg." for _, d in COLUMNS[:-1]]
    return ["Models", *names, "Avg."]


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(spec: TableSpec, all_entries: Sequence[dict], protocol: Protocol = Protocol.OFFICIAL,
           style: str = "markdown") -> str:
    rows = table_rows(spec, all_entries, protocol)
    if not rows:
        return ""
    if style in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if style == "csv" else "\t", lineterminator="\n")
        writer.writerow(["Group", *_header()] if style == "csv" else _header())
        for group, label, values, _ in rows:
            writer.writerow(([group] if style == "csv" else []) + [label, *map(_number, values)])
        return buffer.getvalue()
    marks = {"markdown": ("**{}**", "<u>{}</u>"), "latex": ("\\textbf{{{}}}", "\\underline{{{}}}")}[style]
    cell = lambda value, rank: (marks[rank - 1].format(_number(value)) if rank else _number(value))
    title = f"Table {spec.number} ({protocol}): {spec.caption}"
    if style == "markdown":
        lines = [f"**{title}**", "", "| " + " | ".join(_header()) + " |", "|" + "---|" * len(_header())]
        seen_groups = set()
        for group, label, values, ranks in rows:
            if group and group not in seen_groups:
                seen_groups.add(group)
                lines.append(f"| *{group}* |" + " |" * len(COLUMNS))
            lines.append("| " + " | ".join([label, *map(cell, values, ranks)]) + " |")
        return "\n".join(lines) + "\n"
    lines = [f"% {title}", "\\begin{tabular}{l" + "r" * len(COLUMNS) + "}", "\\toprule",
             " & \\multicolumn{7}{c}{Seen} & \\multicolumn{7}{c}{Unseen} & \\\\",
             " & ".join(_header()) + " \\\\", "\\midrule"]
    seen_groups = set()
    for group, label, values, ranks in rows:
        if group and group not in seen_groups:
            seen_groups.add(group)
            lines.append(f"\\multicolumn{{{len(COLUMNS) + 1}}}{{l}}{{\\textit{{{group}}}}} \\\\")
        lines.append(" & ".join([label.replace("_", "\\_"), *map(cell, values, ranks)]) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


CIRCULAR_COLUMNS = ("model", "source", "subset", "finebench closed", "over rotations", "circular seen",
                    "circular unseen", "circular", "circular 95% CI", "plain - circular", "position 1", "position 2",
                    "position 3", "position 4")


def _mean(entry: dict | None, metric: str, split: str = "mean") -> float | None:
    cell = cell_value(entry, metric, split, "average") if entry else None
    return None if cell is None else round(cell["value"], 2)


def circular_rows(all_entries: Sequence[dict]) -> list[dict]:
    """One row per circular entry (CIRCULAR_COLUMNS): its circular accuracy (the mean of the seen and unseen
    averages, as every figure here), accuracy over all rotations, the plain finebench closed-world accuracy of the
    same model, source and subset when there is one, what requiring all four rotations costs (plain - circular),
    and the accuracy with the ground truth at each position. Best circular first."""
    identity = lambda entry: (entry["model"]["name"], entry["source"], entry.get("subset", "full"))
    plain = {identity(entry): entry for entry in all_entries if entry["protocol"] == Protocol.FINEBENCH}
    rows = []
    for entry in all_entries:
        if entry["protocol"] != Protocol.CIRCULAR or not entry["scores"].get("circular_accuracy"):
            continue
        circular, finebench = _mean(entry, "circular_accuracy"), _mean(plain.get(identity(entry)), "closed_accuracy")
        interval = (cell_value(entry, "circular_accuracy", "mean", "average") or {}).get("ci95")
        rows.append(dict(zip(CIRCULAR_COLUMNS, (
            *identity(entry), finebench, _mean(entry, "rotated_accuracy"), _mean(entry, "circular_accuracy", "seen"),
            _mean(entry, "circular_accuracy", "unseen"), circular,
            f"{interval[0]:.1f}-{interval[1]:.1f}" if interval else None,
            None if finebench is None or circular is None else round(finebench - circular, 2),
            *(None if value is None else round(value, 2) for value in entry.get("positions") or [None] * 4)))))
    return sorted(rows, key=lambda row: -1 if row["circular"] is None else -row["circular"])


def render_circular(all_entries: Sequence[dict], style: str = "markdown") -> str:
    """The circular evaluation's own table (`finebench tables --circular`), in any of FORMATS."""
    rows = [[_text(row[column]) for column in CIRCULAR_COLUMNS] for row in circular_rows(all_entries)]
    if not rows:
        return ""
    if style in ("csv", "tsv"):
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter="," if style == "csv" else "\t", lineterminator="\n")
        writer.writerows([list(CIRCULAR_COLUMNS), *rows])
        return buffer.getvalue()
    title = ("Circular closed world: a line counts only if all four rotations of its options are answered right "
             "(%; the mean of the seen and unseen averages)")
    if style == "markdown":
        lines = ["| " + " | ".join(row) + " |" for row in [list(CIRCULAR_COLUMNS), *rows]]
        return "\n".join([f"**{title}**", "", lines[0], "|" + "---|" * len(CIRCULAR_COLUMNS), *lines[1:]]) + "\n"
    escape = lambda text: text.replace("_", "\\_").replace("%", "\\%")
    return "\n".join([f"% {title}", "\\begin{tabular}{lll" + "r" * (len(CIRCULAR_COLUMNS) - 3) + "}", "\\toprule",
                      " & ".join(map(escape, CIRCULAR_COLUMNS)) + " \\\\", "\\midrule",
                      *(" & ".join(map(escape, row)) + " \\\\" for row in rows), "\\bottomrule",
                      "\\end{tabular}"]) + "\n"


def _text(value) -> str:
    return "-" if value is None else f"{value:.2f}" if isinstance(value, (int, float)) else str(value)


def compare(all_entries: Sequence[dict], reference: Sequence[dict],
            metric_names: Sequence[str] = entries.METRICS) -> str:
    """Every reproduced cell beside the reported one, the difference, and whether it lies in the interval."""
    by_model = {}
    for entry in reference:
        for key in (entry["model"].get("id"), entry["model"]["name"]):
            if key:
                by_model[key, entry["protocol"]] = entry
    lines = ["model\tprotocol\tmetric\tsplit\tdataset\treproduced\treported\tdifference\treported in 95% interval"]
    for entry in all_entries:
        if entry["source"] == "reported":
            continue
        other = by_model.get((entry["model"].get("id"), entry["protocol"])) or \
            by_model.get((entry["model"]["name"], entry["protocol"]))
        if other is None:
            continue
        for metric in metric_names:
            for split, dataset in COLUMNS:
                mine, theirs = (cell_value(e, metric, split, dataset) for e in (entry, other))
                if not mine or not theirs:
                    continue
                interval = mine.get("ci95")
                inside = "-" if not interval else ("yes" if interval[0] <= theirs["value"] <= interval[1] else "no")
                lines.append("\t".join([entry["model"]["name"], entry["protocol"], metric, split, dataset,
                                        _number(mine["value"]), _number(theirs["value"]),
                                        f"{mine['value'] - theirs['value']:+.2f}", inside]))
    if len(lines) == 1:
        return "no reproduced entry matches a reported model (by hub id or name)\n"
    return "\n".join(lines) + "\n"
