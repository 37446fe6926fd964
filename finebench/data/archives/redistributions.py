"""Archives as people redistribute them, shown to the readers in the official layout.

Stanford Cars' official files are gone; the copy most people use is Kaggle's
(jessicali9530/stanford-cars-dataset), which nests each image folder one level deeper
(``cars_train/cars_train/``, ``cars_test/cars_test/``) and comes without the devkit and the test
labels, which people fetch separately and keep nearby. A view folder of symlinks under
FINEBENCH_HOME gives the readers the official layout without copying the images; the label check
then runs on the view as on any archive, so a redistribution with other labels is refused the same way.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Sequence

from finebench.data.manifests import ManifestLine
from finebench.home import finebench_home

from .car import ANNOTATIONS
from .locate import SEARCH_DEPTH, _candidate_folders, _probes

KAGGLE_IMAGE_FOLDERS = {"cars_train": "cars_train/cars_train", "cars_test": "cars_test/cars_test"}
CAR_METADATA = {"cars_meta.mat": "devkit", ANNOTATIONS["train"]: "devkit", ANNOTATIONS["test"]: "."}
_METADATA_DEPTH = 4


def views_dir() -> Path:
    return finebench_home() / "archive-views"


def _kaggle_root(data_root: Path, lines: Sequence[ManifestLine]) -> Path | None:
    probes = _probes(lines)
    nested = KAGGLE_IMAGE_FOLDERS["cars_test"]
    for folder in _candidate_folders(data_root, SEARCH_DEPTH):
        hits = sum((folder / nested / line.archive_path.split("/", 1)[1]).is_file() for line in probes)
        if hits * 2 > len(probes):
            return folder
    return None


def _find_metadata(roots: Sequence[Path], name: str) -> Path | None:
    """The first file called ``name`` within a few folders of the redistribution or the data root."""
    for root in roots:
        base_depth = len(root.parts)
        for folder, folders, files in os.walk(root):
            folders[:] = sorted(f for f in folders if not f.startswith(".") and f not in ("cars_train", "cars_test"))
            if name in files:
                return Path(folder) / name
            if len(Path(folder).parts) - base_depth >= _METADATA_DEPTH:
                folders[:] = []
    return None


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.exists():
        if link.is_symlink() and Path(os.readlink(link)) == target:
            return
        link.unlink()
    tmp = link.with_name(f".{link.name}.tmp")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    os.replace(tmp, link)  # a reader never sees the link missing or half made


def kaggle_cars_view(data_root: Path, lines: Sequence[ManifestLine], official: Path | None) -> Path | None:
    """An official-layout view of Kaggle's Stanford Cars under data_root, or None when there is none or the
    official layout was found (``official``). Kaggle's outer cars_test/ looks like an official root to the
    plain search, its images being at cars_test/<name>: that match is taken for what it is."""
    if official is not None and not (official.name == "cars_test" and (official / "cars_test").is_dir()):
        return None
    root = _kaggle_root(data_root, lines)
    if root is None:
        return None
    view = views_dir() / f"car-kaggle-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"
    for name, nested in KAGGLE_IMAGE_FOLDERS.items():
        if (root / nested).is_dir():
            _link(root / nested, view / name)
    for name, folder in CAR_METADATA.items():
        found = _find_metadata((root, data_root), name)
        if found is not None:
            _link(found.resolve(), view / folder / name)
    return view


# dataset -> its redistributions' view maker, asked after the official layout was looked for
REDISTRIBUTIONS = {"car": kaggle_cars_view}


def locate_any(data_root: Path, dataset: str, lines: Sequence[ManifestLine]) -> Path | None:
    """The archive root of dataset under data_root: the official layout, or a view of a redistribution."""
    from .locate import locate_archive

    official = locate_archive(data_root, lines)
    view_of = REDISTRIBUTIONS.get(dataset)
    view = view_of(data_root, lines, official) if view_of else None
    return view or official
