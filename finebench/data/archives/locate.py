"""Finding each dataset's archive root under the user's data root.

People extract archives under many names (``CUB_200_2011/``, ``bird_200/``,
``CUB_200_2011/CUB_200_2011/``), so no name is trusted: a folder is the root of a
dataset when the manifests' own image paths exist below it. When none is found, the
error says where a probe image was seen instead, if anywhere.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Sequence

from finebench.data.manifests import ManifestLine
from finebench.data.registry import get_dataset
from finebench.errors import FinebenchError

SEARCH_DEPTH = 3
PROBES = 8
_WALK_LIMIT = 200_000  # entries visited when looking for a misplaced probe image


def _candidate_folders(data_root: Path, depth: int) -> Iterator[Path]:
    yield data_root
    if depth == 0:
        return
    try:
        entries = sorted(os.scandir(data_root), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.name.startswith("."):
            yield from _candidate_folders(Path(entry.path), depth - 1)


def _probes(lines: Sequence[ManifestLine]) -> list[ManifestLine]:
    step = max(1, len(lines) // PROBES)
    return list(lines[::step][:PROBES])


def locate_archive(data_root: Path, lines: Sequence[ManifestLine]) -> Path | None:
    """The folder under data_root where most probe images sit at their manifest paths."""
    probes = _probes(lines)
    best, best_hits = None, 0
    for folder in _candidate_folders(data_root, SEARCH_DEPTH):
        hits = sum((folder / line.archive_path).is_file() for line in probes)
        if hits > best_hits:
            best, best_hits = folder, hits
            if hits == len(probes):
                break
    return best


def _find_file(data_root: Path, name: str) -> Path | None:
    visited = 0
    for folder, _, files in os.walk(data_root):
        visited += len(files) + 1
        if name in files:
            return Path(folder) / name
        if visited > _WALK_LIMIT:
            return None
    return None


def archive_not_found(data_root: Path, dataset: str, lines: Sequence[ManifestLine]) -> FinebenchError:
    """An error that says what was looked for, and where a probe image was seen instead."""
    info = get_dataset(dataset)
    probe = lines[0]
    expected = f"<archive>/{probe.archive_path}"
    found = _find_file(data_root, probe.basename)
    if found is not None:
        return FinebenchError(
            f"{info.display_name}: found {probe.basename} at {found}, but the benchmark expects it at "
            f"{expected}: the archive is laid out differently from the official one",
            f"extract {info.archive_name} as distributed (or arrange it as {probe.image_path}) under {data_root}",
        )
    return FinebenchError(
        f"{info.display_name}: no archive under {data_root} (looked up to {SEARCH_DEPTH} folders deep "
        f"for {expected}, e.g. {probe.image_path})",
        f"download and extract {info.archive_name} into {data_root}, or pass --datasets without {dataset}",
    )
