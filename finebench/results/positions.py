"""Accuracy by where the ground truth stood among the four options: the position-bias profile.

An unbiased model scores the same whichever option is right; one that leans on a position
scores high there and low elsewhere (the reference responder `first_option` scores 100 at
position 1 and 0 at the others). Read from an entry's per-line sidecar (the finebench
protocol shuffles the options, so every position occurs; the official one always puts the
ground truth first, so its profile has one bar), or for the circular protocol from its
rotations, where each line's ground truth stands once in each position.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from finebench.errors import FinebenchError

POSITIONS = 4


def profile(columns: dict) -> list[float | None]:
    """Closed-world accuracy (percent) with the ground truth at positions 1-4, from an entry's per-line columns."""
    closed = (columns["metric"] == "closed_accuracy") & np.array([p is not None for p in columns["position"]])
    return by_position(columns["score"][closed], columns["position"][closed])


def by_position(scores: Sequence[float], places: Sequence[int]) -> list[float | None]:
    """Accuracy (percent) of the 0/1 scores whose ground truth stood at positions 1-4 (places 0-3); None where
    none stood there. Unscored lines (NaN) are left out."""
    scores, places = np.asarray(scores, dtype=float), np.asarray(places)
    scored = ~np.isnan(scores)
    return [float(scores[scored & (places == place)].mean() * 100) if (scored & (places == place)).any()
            else None for place in range(POSITIONS)]


def label(entry: dict) -> str:
    """A profile's name in the figure: a model can have one per protocol and subset."""
    return f"{entry['model']['name']} ({entry['protocol']}, {entry.get('subset', 'full')})"


def figure(profiles: Sequence[tuple[str, Sequence[float | None]]]):
    """Four bars per model (accuracy with the ground truth at each position), as a matplotlib figure."""
    try:
        from matplotlib.figure import Figure  # not pyplot: no global registry of figures to leak from an app
    except ImportError:
        raise FinebenchError("the position plot needs matplotlib", "pip install matplotlib (or the train extra)") \
            from None
    width = 0.8 / POSITIONS
    drawn = Figure(figsize=(max(6.0, 1.4 * len(profiles) + 2), 4.2))
    axes = drawn.subplots()
    for place in range(POSITIONS):
        values = [np.nan if bars[place] is None else bars[place] for _, bars in profiles]
        axes.bar(np.arange(len(profiles)) + (place - (POSITIONS - 1) / 2) * width, values, width,
                 label=f"ground truth at option {place + 1}")
    axes.set_xticks(np.arange(len(profiles)), [name for name, _ in profiles], rotation=20, ha="right")
    axes.set_ylabel("closed-world accuracy (%)")
    axes.set_ylim(0, 100)
    axes.set_title("Accuracy by the ground truth's position among the options")
    axes.legend(fontsize="small", ncols=2)
    drawn.tight_layout()
    return drawn


def plot(profiles: Sequence[tuple[str, Sequence[float | None]]], path: Path) -> Path:
    """The figure, written as a PNG."""
    from finebench import atomic

    with atomic.atomic_path(path) as staged:
        figure(profiles).savefig(staged, format="png", dpi=120)
    return path
