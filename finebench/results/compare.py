"""`finebench compare`: two entries line by line, over the lines both scored.

Two models scored on the same lines are compared better pairwise than through their
separate intervals: the per-line differences carry the noise the two share no more. For
each metric x dataset x split (and each metric over all its lines) this gives the
difference of the means (A - B, points) with a paired percentile-bootstrap 95 % interval
(the lines resampled jointly), and for the 0/1 metrics McNemar's exact test on the lines
where exactly one of the two is right. The p-values are per cell, uncorrected: read a
table of them with the number of cells in mind (Holm's correction is printed beside).

Two entries evaluated under different conditions (finebench.results.conditions: new tokens, decoding,
pixel budget, precision) are compared all the same, but no cell is called significantly different unless
the caller asks (`across_settings`): the settings, not the models, may make the difference.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np

from finebench.data.registry import DATASET_KEYS
from finebench.scoring.stats import bootstrap_means, interval

from . import conditions
from .lines import closed_metric

BINARY_METRICS = ("closed_accuracy", "open_inclusion", "circular_accuracy")  # right or wrong per line: McNemar applies
ALL = "all"  # the dataset and split of a metric's row over every line


@dataclass(frozen=True)
class Difference:
    metric: str
    dataset: str
    split: str
    lines: int  # scored in both entries
    a: float  # percent
    b: float
    difference: float  # a - b, points
    ci95: tuple[float, float]
    only_a_right: int | None = None  # McNemar's discordant lines (binary metrics)
    only_b_right: int | None = None
    p_value: float | None = None  # McNemar's exact two-sided test
    p_holm: float | None = None  # the same after Holm's correction over the table's tests
    judged: bool = True  # False: the entries' settings differ, so no verdict is given (settings_verdict)


def significant(cell: Difference) -> bool:
    """Called different: judged, and Holm-adjusted p < 0.05."""
    return cell.judged and cell.p_holm is not None and cell.p_holm < 0.05


def settings_verdict(entry_a: dict, entry_b: dict, across_settings: bool = False) -> tuple[bool, str]:
    """Whether differences between the two entries may be judged, and a note saying why not (or that they were
    judged across settings, as asked); ("", True) when their recorded conditions agree."""
    found = conditions.differences(conditions.of(entry_a), conditions.of(entry_b))
    if not found:
        return True, ""
    listed = "; ".join(found)
    if across_settings:
        return True, f"Judged across different settings, as asked ({listed}): a difference may be the settings'."
    return False, (f"A and B were evaluated under different settings ({listed}), so no difference is called "
                   "significant: the settings, not the models, may explain it. Evaluate both alike, or ask for a "
                   "verdict across settings.")


def mcnemar_exact(only_a_right: int, only_b_right: int) -> float:
    """Two-sided exact McNemar p-value: under no difference each discordant line is a fair coin, so the smaller
    count is binomial(n, 1/2); the p-value doubles its lower tail (capped at 1)."""
    n, k = only_a_right + only_b_right, min(only_a_right, only_b_right)
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: controls the chance of any false 'different' over the table, without the
    independence Benjamini-Hochberg would assume of cells that share a model."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def paired(a: np.ndarray, b: np.ndarray, metric: str, dataset: str, split: str) -> Difference:
    """The difference of two entries' scores (0-1) on the same lines, in points."""
    differences = (a - b) * 100.0
    seed = zlib.crc32(f"compare/{metric}/{dataset}/{split}".encode())  # the same table on every run
    low, high = interval(bootstrap_means(differences, seed=seed))
    cell = Difference(metric, dataset, split, len(a), float(a.mean() * 100), float(b.mean() * 100),
                      float(differences.mean()), (low, high))
    if metric not in BINARY_METRICS:
        return cell
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    return replace(cell, only_a_right=only_a, only_b_right=only_b, p_value=mcnemar_exact(only_a, only_b))


def matched(columns_a: dict, columns_b: dict) -> dict[tuple[str, str], tuple[int, int]]:
    """(metric, sample_id) -> the row in A and in B, for the lines both entries scored (NaN: not scored)."""
    def index(columns: dict) -> dict[tuple[str, str], int]:
        return {(metric, sample): row for row, (metric, sample, score) in
                enumerate(zip(columns["metric"], columns["sample_id"], columns["score"])) if not math.isnan(score)}
    rows_a, rows_b = index(columns_a), index(columns_b)
    return {key: (rows_a[key], rows_b[key]) for key in sorted(rows_a.keys() & rows_b.keys())}


def compare(columns_a: dict, columns_b: dict, judged: bool = True) -> list[Difference]:
    """Every metric x dataset x split both entries scored, then each metric over all its lines (`judged`: see
    settings_verdict)."""
    pairs = matched(columns_a, columns_b)
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = {}
    for (metric, _), (row_a, row_b) in pairs.items():
        dataset, split = str(columns_a["dataset"][row_a]), str(columns_a["split"][row_a])
        groups.setdefault((metric, dataset, split), []).append((row_a, row_b))
        groups.setdefault((metric, ALL, ALL), []).append((row_a, row_b))
    cells = []
    # each metric's cells in the paper's dataset order, its row over all lines last
    order = {dataset: index for index, dataset in enumerate(DATASET_KEYS)}
    for (metric, dataset, split), rows in sorted(groups.items(), key=lambda item: (
            item[0][0], order.get(item[0][1], len(order)), item[0][2])):
        taken = np.array(rows)
        scores_a, scores_b = columns_a["score"][taken[:, 0]], columns_b["score"][taken[:, 1]]
        cells.append(replace(paired(scores_a.astype(float), scores_b.astype(float), metric, dataset, split),
                             judged=judged))
    tested = [index for index, cell in enumerate(cells) if cell.p_value is not None]
    adjusted = holm([cells[index].p_value for index in tested])
    for index, p_holm in zip(tested, adjusted):
        cells[index] = replace(cells[index], p_holm=p_holm)
    return cells


def disagreements(columns_a: dict, columns_b: dict, metric: str | None = None) -> list[dict]:
    """The lines of one metric (by default A's closed world: closed or circular accuracy) where exactly one entry is
    right (or their scores differ), with both answers."""
    metric = metric or closed_metric(columns_a)
    found = []
    for (line_metric, sample), (row_a, row_b) in matched(columns_a, columns_b).items():
        if line_metric == metric and columns_a["score"][row_a] != columns_b["score"][row_b]:
            found.append({"sample_id": sample, "dataset": columns_a["dataset"][row_a],
                          "split": columns_a["split"][row_a], "ground_truth": columns_a["ground_truth"][row_a],
                          "score_a": float(columns_a["score"][row_a]), "answer_a": columns_a["answer"][row_a],
                          "score_b": float(columns_b["score"][row_b]), "answer_b": columns_b["answer"][row_b]})
    return found


def render(cells: Sequence[Difference], name_a: str, name_b: str) -> str:
    """A Markdown table: one row per cell, the significant ones (Holm-adjusted p < 0.05) marked."""
    lines = [f"A = {name_a}", f"B = {name_b}", "",
             "| metric | dataset | split | lines | A | B | A - B | 95% CI (paired) | only A right | only B right "
             "| p (McNemar) | p (Holm) |", "|" + "---|" * 12]
    for cell in cells:
        mark = " *" if significant(cell) else ""
        discordant = ("", "", "", "") if cell.p_value is None else (
            cell.only_a_right, cell.only_b_right, f"{cell.p_value:.3g}", f"{cell.p_holm:.3g}{mark}")
        lines.append(f"| {cell.metric} | {cell.dataset} | {cell.split} | {cell.lines} | {cell.a:.2f} | {cell.b:.2f} "
                     f"| {cell.difference:+.2f} | {cell.ci95[0]:+.2f} to {cell.ci95[1]:+.2f} | "
                     + " | ".join(map(str, discordant)) + " |")
    lines.append("\n* : different after Holm's correction over the table's McNemar tests (p < 0.05)"
                 + ("" if all(cell.judged for cell in cells) else "; withheld here: the settings differ"))
    return "\n".join(lines) + "\n"
