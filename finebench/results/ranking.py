"""Ranks that tie only where the data cannot separate two entries.

A ranked figure is the paper's mean: the mean of the seen and unseen averages, each the mean of
six datasets' cells, so every (dataset, split) cell weighs 1/12. Two entries that both carry
per-line scores are compared on the lines both scored: the difference of their figures is the
weighted sum of the cells' mean per-line differences, and its variance the weighted sum of
those means' variances (the cells' lines are disjoint). A paired z-test on it separates entries
whose separate intervals overlap, since the noise the two share (hard lines are hard for both)
cancels line by line. Every pair of a table is one test of one family, so the p-values are
adjusted with Holm's step-down correction, which bounds the chance that any "ahead" in the
table is wrong (the family-wise error) without assuming the tests independent (they are not:
each entry is in many pairs), and is never less powerful than Bonferroni's. Entries without
per-line scores (the paper's rows) fall back to the intervals: ahead when the intervals do not
overlap. A row's rank is 1 + the number of rows clearly ahead of it.
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np

from finebench.data.registry import DATASET_KEYS, SPLITS

from .compare import holm

ALPHA = 0.05
CELLS = tuple((dataset, split) for dataset in DATASET_KEYS for split in SPLITS)  # each weighs 1/12 in the mean
Cells = dict  # (dataset, split) -> (sorted line keys, scores 0-1): one entry's lines of one metric


def line_key(sample_id: str) -> int:
    """A line's sample id as a 64-bit integer (a collision among 35,566 lines has odds of 1 in 10^10)."""
    return int.from_bytes(hashlib.blake2b(sample_id.encode(), digest_size=8).digest(), "little", signed=True)


def cells_of(columns: dict, metric: str) -> Cells | None:
    """An entry's scored lines of one metric by (dataset, split), compact (a full entry's are 35,566 keys and
    scores); None if it has none of that metric."""
    chosen = (columns["metric"] == metric) & ~np.isnan(columns["score"].astype(float))
    if not chosen.any():
        return None
    found = {}
    datasets, splits = columns["dataset"][chosen], columns["split"][chosen]
    ids, scores = columns["sample_id"][chosen], columns["score"][chosen].astype(np.float32)
    for dataset, split in CELLS:
        here = (datasets == dataset) & (splits == split)
        keys = np.fromiter((line_key(str(sample)) for sample in ids[here]), dtype=np.int64, count=int(here.sum()))
        order = np.argsort(keys, kind="stable")
        found[dataset, split] = (keys[order], scores[here][order])
    return found


def paired_test(a: Cells, b: Cells) -> tuple[float, float] | None:
    """(A - B in points on the ranked figure, two-sided p of the paired z-test), over the lines both scored; None
    when a cell of the figure has no line both scored (a lite entry against a full one, a partial entry)."""
    difference, variance = 0.0, 0.0
    weight = 1.0 / len(CELLS)
    for cell in CELLS:
        (keys_a, scores_a), (keys_b, scores_b) = a.get(cell, ((), ())), b.get(cell, ((), ()))
        if len(keys_a) == len(keys_b) and np.array_equal(keys_a, keys_b):
            lines = (scores_a.astype(float) - scores_b) * 100.0  # the usual case: the same lines
        else:
            _, in_a, in_b = np.intersect1d(keys_a, keys_b, assume_unique=True, return_indices=True)
            lines = (scores_a[in_a].astype(float) - scores_b[in_b]) * 100.0
        if len(lines) == 0:
            return None
        difference += weight * lines.mean()
        variance += weight ** 2 * (lines.var(ddof=1) / len(lines) if len(lines) > 1 else 0.0)
    if variance == 0.0:
        return difference, (1.0 if difference == 0.0 else 0.0)
    return difference, math.erfc(abs(difference) / math.sqrt(2.0 * variance))


def ranks(lows: Sequence[float], highs: Sequence[float], groups: Sequence[str],
          lines: Sequence[Cells | None]) -> tuple[list[int], list[str]]:
    """Each row's rank among the rows of its group (a subset), and how its comparisons were decided: "paired" when
    all were paired tests, "intervals" when all were interval overlaps, "both"."""
    lows, highs, groups = np.asarray(lows, dtype=float), np.asarray(highs, dtype=float), np.asarray(groups)
    same = groups[:, None] == groups[None, :]
    np.fill_diagonal(same, False)
    ahead = (lows[None, :] > highs[:, None]) & same  # ahead[i, j]: row j is clearly ahead of row i
    with_lines = [i for i, cells in enumerate(lines) if cells is not None]
    tests = {(i, j): result for n, i in enumerate(with_lines) for j in with_lines[n + 1:]
             if same[i, j] and (result := paired_test(lines[i], lines[j])) is not None}
    paired = np.zeros_like(same)
    for (i, j), adjusted in zip(tests, holm([p for _, p in tests.values()])):
        difference = tests[i, j][0]  # row i - row j
        ahead[i, j], ahead[j, i] = adjusted < ALPHA and difference < 0, adjusted < ALPHA and difference > 0
        paired[i, j] = paired[j, i] = True
    ways = ["both" if (paired[i] & same[i]).any() and (~paired[i] & same[i]).any()
            else "paired" if (paired[i] & same[i]).any() else "intervals" for i in range(len(lows))]
    return [1 + int(count) for count in ahead.sum(axis=1)], ways
