"""Percentile-bootstrap intervals for means of per-line scores, and for means of means."""

from __future__ import annotations

from typing import Sequence

import numpy as np

ITERATIONS = 1000
SEED = 0
LEVEL = 0.95


def bootstrap_means(scores: Sequence[float], iterations: int = ITERATIONS, seed: int = SEED) -> np.ndarray:
    """Means of `iterations` resamples (with replacement) of the scores."""
    values = np.asarray(scores, dtype=np.float64)
    rng = np.random.default_rng(seed)
    indices = rng.integers(0, len(values), size=(iterations, len(values)))
    return values[indices].mean(axis=1)


def interval(resampled_means: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(resampled_means, [tail, 100 - tail])
    return float(low), float(high)
