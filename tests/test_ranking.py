"""Ranks from paired tests: the stratified paired z-test checked by hand and against scipy, Holm over a table's
pairs, two models whose intervals overlap told apart by their lines, and the fall-back to intervals."""

import math
import zlib

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, ttest_rel

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.leaderboard import data
from finebench.results import ranking
from finebench.results.compare import holm

CELLS = [(dataset, split) for dataset in DATASET_KEYS for split in SPLITS]


def columns_of(scores: dict[tuple[str, str], list[float]], metric: str = "closed_accuracy") -> dict:
    """Per-line sidecar columns (as lines.decode gives them) from per-cell scores; line i of a cell is id i."""
    rows = [(metric, dataset, split, f"{dataset}/{index}", score)
            for (dataset, split), values in scores.items() for index, score in enumerate(values)]
    names = ("metric", "dataset", "split", "sample_id", "score")
    return {name: np.array([row[i] for row in rows], dtype=float if name == "score" else object)
            for i, name in enumerate(names)}


def test_the_paired_test_by_hand_and_against_scipy():
    rng = np.random.default_rng(0)
    a_scores = {cell: rng.integers(0, 2, 40 + 10 * i).astype(float).tolist() for i, cell in enumerate(CELLS)}
    b_scores = {cell: [float(rng.random() < 0.4) for _ in values] for cell, values in a_scores.items()}
    a, b = ranking.cells_of(columns_of(a_scores), "closed_accuracy"), ranking.cells_of(columns_of(b_scores),
                                                                                         "closed_accuracy")
    difference, p = ranking.paired_test(a, b)
    # by hand: each cell's mean difference weighs 1/12; the variance of each mean is s^2 / n
    lines = {cell: 100 * (np.array(a_scores[cell]) - np.array(b_scores[cell])) for cell in CELLS}
    expected = sum(d.mean() for d in lines.values()) / 12
    variance = sum(d.var(ddof=1) / len(d) for d in lines.values()) / 144
    assert difference == pytest.approx(expected)
    assert p == pytest.approx(2 * norm.sf(abs(expected) / math.sqrt(variance)))
    # one cell alone (the others equal in both): the z-test is scipy's paired t-test with n large
    big = rng.integers(0, 2, 5000).astype(float)
    other = np.where(rng.random(5000) < 0.1, 1 - big, big)
    same = {cell: [1.0, 0.0, 1.0] for cell in CELLS}
    one, two = (ranking.cells_of(columns_of({**same, CELLS[0]: list(values)}), "closed_accuracy")
                for values in (big, other))
    assert ranking.paired_test(one, two)[1] == pytest.approx(ttest_rel(big, other).pvalue, rel=0.02)


def test_lines_scored_by_one_entry_only_are_left_out_and_a_missing_cell_means_no_test():
    full = {cell: [1.0, 0.0, 1.0, 1.0] for cell in CELLS}
    fewer = {**full, CELLS[3]: [1.0, 0.0]}  # scored the first two lines of one cell only
    difference, _ = ranking.paired_test(ranking.cells_of(columns_of(full), "closed_accuracy"),
                                        ranking.cells_of(columns_of(fewer), "closed_accuracy"))
    assert difference == 0.0
    lite = {cell: values for cell, values in full.items() if cell != CELLS[0]}
    assert ranking.paired_test(ranking.cells_of(columns_of(full), "closed_accuracy"),
                               ranking.cells_of(columns_of(lite), "closed_accuracy")) is None


def entry_row(name: str, scores: dict, subset: str = "full") -> tuple[dict, dict]:
    """A table row as data.metric_frame makes it (with a percentile-bootstrap interval of its mean, as ingest),
    and its cells."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    means = np.mean([[np.mean(rng.choice(values, len(values))) for _ in range(400)] for values in scores.values()],
                    axis=0) * 100
    mean = np.mean([np.mean(values) for values in scores.values()]) * 100
    low, high = np.percentile(means, [2.5, 97.5])
    return {"model": name, "mean": mean, "subset": subset, "settings": "reference", "_low": low, "_high": high}, \
        ranking.cells_of(columns_of(scores), "closed_accuracy")


def test_overlapping_intervals_are_told_apart_by_the_lines_and_holm_is_applied():
    rng = np.random.default_rng(1)
    base = {cell: (rng.random(300) < 0.6).astype(float) for cell in CELLS}
    better = {cell: np.where((values == 0) & (rng.random(300) < 0.06), 1.0, values) for cell, values in base.items()}
    rows = [entry_row("better", better), entry_row("base", base), entry_row("paper row", base)]
    frame = pd.DataFrame([row for row, _ in rows])
    assert frame["_low"][0] < frame["_high"][1]  # the intervals overlap...
    ranked = data.rank(frame, [rows[0][1], rows[1][1], None])
    by_model = ranked.set_index("model")
    assert by_model.loc["better", "rank"] == 1 and by_model.loc["base", "rank"] == 2  # ...the lines do not
    assert by_model.loc["paper row", "rank"] == 1  # no lines: its interval overlaps the best one's
    assert dict(by_model["ties by"]) == {"better": "both", "base": "both", "paper row": "intervals"}
    without_lines = data.rank(frame, None).set_index("model")
    assert list(without_lines["rank"]) == [1, 1, 1] and set(without_lines["ties by"]) == {"intervals"}


def test_holm_decides_over_every_pair_of_the_table():
    """Three rows whose pairwise p-values are known: only what survives Holm's step-down counts as ahead."""
    rng = np.random.default_rng(2)
    base = {cell: (rng.random(200) < 0.5).astype(float) for cell in CELLS}
    step = lambda share: {cell: np.where((v == 0) & (np.arange(200) % 100 < share), 1.0, v) for cell, v in base.items()}
    rows = [entry_row(name, scores) for name, scores in (("c", base), ("b", step(3)), ("a", step(9)))]
    cells = [cells for _, cells in rows]
    pairs = {(i, j): ranking.paired_test(cells[i], cells[j]) for i in range(3) for j in range(i + 1, 3)}
    adjusted = dict(zip(pairs, holm([p for _, p in pairs.values()])))
    frame = data.rank(pd.DataFrame([row for row, _ in rows]), cells).set_index("model")
    names = ["c", "b", "a"]
    for model in names:
        i = names.index(model)
        ahead = sum(adjusted[min(i, j), max(i, j)] < ranking.ALPHA and (j > i) for j in range(3) if j != i)
        assert frame.loc[model, "rank"] == 1 + ahead
    assert frame.loc["a", "rank"] == 1 and frame.loc["c", "rank"] > 1
