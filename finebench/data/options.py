"""The balanced order of the closed-world options: the finebench protocol shows them in it.

The official manifests put the ground truth first on every line, so a model that always
answers the first option scores 100 %. finebench permutes the options per line, fixed by
a hash of (dataset, file name): the lines of a manifest are ranked by that hash and the
rank modulo 4 gives the ground truth's position, which spreads it evenly over the four
positions (to within one line per position) while staying independent of anything but
the pinned manifest. The distractors keep an order drawn from the same hash.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

from .manifests import OPTIONS_PER_LINE, Manifest, ManifestLine

# The rule below, named: a shared copy of prepared data records it, and a reader refuses another one.
OPTION_ORDER = "sha256(dataset/file name) rank mod 4, distractors by sha256(key + option)"


def line_key(dataset: str, line: ManifestLine) -> bytes:
    return hashlib.sha256(f"{dataset}/{line.basename}".encode()).digest()


def _distractor_order(key: bytes, distractors: Sequence[str]) -> list[str]:
    return sorted(distractors, key=lambda option: hashlib.sha256(key + option.encode()).digest())


def permuted_options(key: bytes, line: ManifestLine, answer_position: int) -> tuple[str, ...]:
    options = _distractor_order(key, [option for option in line.options if option != line.ground_truth])
    options.insert(answer_position, line.ground_truth)
    return tuple(options)


def _ranked_positions(manifest: Manifest, keys: dict[int, bytes]) -> dict[int, int]:
    ranked = sorted(manifest.lines, key=lambda line: keys[line.index])
    return {line.index: rank % OPTIONS_PER_LINE for rank, line in enumerate(ranked)}


def _line_keys(manifest: Manifest) -> dict[int, bytes]:
    return {line.index: line_key(manifest.dataset, line) for line in manifest.lines}


def answer_positions(manifest: Manifest) -> dict[int, int]:
    """Line index -> position (0..3) of the ground truth in the balanced order."""
    return _ranked_positions(manifest, _line_keys(manifest))


def balanced_options(manifest: Manifest) -> dict[int, tuple[str, ...]]:
    """Line index -> the options in the balanced order."""
    keys = _line_keys(manifest)  # once per line: both the ranking and the distractor order need it
    positions = _ranked_positions(manifest, keys)
    return {line.index: permuted_options(keys[line.index], line, positions[line.index]) for line in manifest.lines}
