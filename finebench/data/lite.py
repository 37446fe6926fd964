"""The ``lite`` subset: a small, class-stratified sample of each manifest for quick runs.

LITE_LINES_PER_SPLIT lines per (dataset, split), 600 in all: classes are visited in a
seeded random order, one line each, round after round, so every class is represented
before any class gets a second line (bird unseen has 80 classes, so 50 of them appear).
"""

from __future__ import annotations

import random

from .manifests import Manifest

LITE_LINES_PER_SPLIT = 50
LITE_SEED = 2026


def lite_indices(manifest: Manifest, size: int = LITE_LINES_PER_SPLIT, seed: int = LITE_SEED) -> list[int]:
    """Manifest line indices of the lite subset, in manifest order."""
    rng = random.Random(f"{seed}:{manifest.name}")
    by_class: dict[str, list[int]] = {}
    for line in manifest.lines:
        by_class.setdefault(line.ground_truth, []).append(line.index)
    for indices in by_class.values():
        rng.shuffle(indices)
    classes = sorted(by_class)
    rng.shuffle(classes)
    chosen: list[int] = []
    for round_ in range(max(map(len, by_class.values()))):
        for name in classes:
            if len(chosen) == size:
                return sorted(chosen)
            if round_ < len(by_class[name]):
                chosen.append(by_class[name][round_])
    return sorted(chosen)
