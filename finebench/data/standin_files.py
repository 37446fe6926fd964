"""The stand-in archives packed as the files their authors distribute, under the official file names,
with a SHA256SUMS: a mirror that tests and `finebench bench download` serve over loopback.

Each official file holds one part of the extracted archive (fixtures.write_archives lays those out):
PARTS says which part and under which name inside the tar, so that unpacking every file of a
dataset into one folder gives back the archive as the readers expect it.
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from finebench import atomic

from .download import SUMS_FILE, format_sums
from .fixtures import OFFICIAL_FOLDERS
from .sources import SOURCES, SourceFile

# file key -> (its part, relative to the stand-in archive root; its name inside the tar, "" for the part's
# contents at the top, None for a plain file)
PARTS: dict[str, tuple[str, str | None]] = {
    "aircraft/fgvc-aircraft-2013b.tar.gz": (".", "fgvc-aircraft-2013b"),
    "bird/CUB_200_2011.tgz": (".", "CUB_200_2011"),
    "car/cars_train.tgz": ("cars_train", "cars_train"),
    "car/cars_test.tgz": ("cars_test", "cars_test"),
    "car/car_devkit.tgz": ("devkit", "devkit"),
    "car/cars_test_annos_withlabels.mat": ("cars_test_annos_withlabels.mat", None),
    "dog/images.tar": ("Images", "Images"),
    "dog/lists.tar": ("lists", ""),
    "flower/102flowers.tgz": ("jpg", "jpg"),
    "flower/imagelabels.mat": ("imagelabels.mat", None),
    "flower/setid.mat": ("setid.mat", None),
    "pet/images.tar.gz": ("images", "images"),
    "pet/annotations.tar.gz": ("annotations", "annotations"),
}
assert set(PARTS) == {source.key for source in SOURCES}


def _pack(part: Path, inside: str, target: Path) -> None:
    mode = "w:gz" if target.name.endswith(("gz", ".tgz")) else "w"
    options = {"compresslevel": 1} if mode == "w:gz" else {}  # stand-in JPEGs do not compress anyway
    with atomic.atomic_path(target) as tmp, tarfile.open(tmp, mode, **options) as tar:
        if inside:
            tar.add(part, arcname=inside)
        else:
            for child in sorted(part.iterdir()):
                tar.add(child, arcname=child.name)


def write_mirror(archives: Path, mirror: Path, datasets: Iterable[str]) -> dict[str, str]:
    """Pack the stand-in archives under ``archives`` (written by fixtures.write_archives, official layout) as
    ``mirror/<dataset>/<file>`` plus ``mirror/SHA256SUMS``; return the sums."""
    sums = {}
    for source in SOURCES:
        if source.dataset not in datasets:
            continue
        part, inside = PARTS[source.key]
        part_path = archives / OFFICIAL_FOLDERS[source.dataset] / part
        target = mirror / source.key
        target.parent.mkdir(parents=True, exist_ok=True)
        if inside is None:
            shutil.copyfile(part_path, target)
        else:
            _pack(part_path, inside, target)
        sums[source.key] = hashlib.sha256(target.read_bytes()).hexdigest()
    atomic.write_text(mirror / SUMS_FILE, format_sums(sums))
    return sums


def sources_served_by(mirror: Path, base_url: str) -> tuple[SourceFile, ...]:
    """The project's source table as if the authors served the stand-ins at ``base_url``: every file at its
    official name, with the stand-in's own MD5 pinned where the real file has one pinned."""
    served = []
    for source in SOURCES:
        path = mirror / source.key
        if not path.is_file():
            served.append(source)
            continue
        md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest() if source.md5 else None
        url = f"{base_url.rstrip('/')}/{source.key}" if source.url else None
        served.append(replace(source, url=url, md5=md5))
    return tuple(served)
