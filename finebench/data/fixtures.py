"""Generated stand-ins for the six official archives, for tests, the demo and the benchmark.

Each archive gets the official metadata files in their real formats (``.mat`` through
scipy.io, ``.txt``), JPEGs at the exact file names the manifests use, and a few training
images per class in the archive's own naming. A JPEG's colour follows its class, so a
model can in principle learn something from the fixtures.
"""

from __future__ import annotations

import hashlib
import io
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from tqdm.auto import tqdm

from .archives import READERS, ArchiveImage
from .manifests import Manifest
from .registry import DATASET_KEYS, SPLITS, get_dataset
from .standins import STANDINS

# The folder each official download extracts to (or that people conventionally make).
OFFICIAL_FOLDERS = {
    "aircraft": "fgvc-aircraft-2013b",
    "bird": "CUB_200_2011",
    "car": "stanford_cars",
    "dog": "stanford_dogs",
    "flower": "flowers-102",
    "pet": "oxford-iiit-pet",
}
LAYOUTS = ("official", "fine-r1")
TINY = (32, 24)
FULL_SIZE = (500, 375)


@dataclass(frozen=True)
class FixtureImage:
    path: Path
    class_id: int
    key: str


def render_jpeg(class_id: int, key: str, size: tuple[int, int]) -> bytes:
    """A smooth, textured JPEG whose hue encodes the class: realistic in size, cheap to make."""
    from PIL import Image

    seed = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    rng = np.random.default_rng(seed)
    width, height = size
    hue = np.array([(class_id * 47) % 256, (class_id * 97) % 256, (class_id * 151) % 256], dtype=np.float32)
    coarse = rng.uniform(0, 255, size=(max(2, height // 24), max(2, width // 24), 3)).astype(np.float32)
    base = Image.fromarray((0.6 * hue + 0.4 * coarse).astype(np.uint8)).resize(size, Image.BICUBIC)
    pixels = np.asarray(base, dtype=np.int16) + rng.integers(-6, 7, size=(height, width, 3), dtype=np.int16)
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _write_image(job: tuple[FixtureImage, tuple[int, int]]) -> None:
    image, size = job
    image.path.parent.mkdir(parents=True, exist_ok=True)
    image.path.write_bytes(render_jpeg(image.class_id, image.key, size))


def spread_subset(lines: Sequence, count: int | None) -> list:
    """``count`` items spread evenly over ``lines`` (all of them when count is None)."""
    if count is None or count >= len(lines):
        return list(lines)
    step = len(lines) / count
    return [lines[int(index * step)] for index in range(count)]


def _train_images(dataset: str, test_paths: set[str], per_class: int) -> list[ArchiveImage]:
    reader, standin, info = READERS[dataset], STANDINS[dataset], get_dataset(dataset)
    per_class = standin.train_images_per_class or per_class
    test_paths, images, number = frozenset(test_paths), [], 0  # hashable: readers may cache per archive
    for label, name in zip(info.archive_labels, info.class_names):
        for index in range(per_class):
            path = standin.train_image_path(label, number, test_paths)
            images.append(ArchiveImage(path, name, reader.train_splits[index % len(reader.train_splits)]))
            number += 1
    return images


def archive_folder(dataset: str, layout: str) -> str:
    return get_dataset(dataset).manifest_folder if layout == "fine-r1" else OFFICIAL_FOLDERS[dataset]


def write_archive(
    data_root: Path,
    dataset: str,
    manifests: dict[tuple[str, str], Manifest],
    lines_per_split: int | None = None,
    train_per_class: int = 5,
    layout: str = "official",
    size: tuple[int, int] = TINY,
) -> tuple[Path, list[FixtureImage]]:
    """Write one archive's metadata (complete) and list the JPEGs to render (a subset or all)."""
    info = get_dataset(dataset)
    root = Path(data_root) / archive_folder(dataset, layout)
    test_lines = [line for split in SPLITS for line in manifests[dataset, split].lines]
    test_images = [ArchiveImage(line.archive_path, line.ground_truth, "test") for line in test_lines]
    train_images = _train_images(dataset, {image.path for image in test_images}, train_per_class)
    STANDINS[dataset].write_metadata(root, train_images + test_images)
    rendered = [line for split in SPLITS for line in spread_subset(manifests[dataset, split].lines, lines_per_split)]
    jobs = [FixtureImage(root / line.archive_path, info.class_id(line.ground_truth), line.image_path)
            for line in rendered]
    jobs += [FixtureImage(root / image.path, info.class_id(image.class_name), f"{dataset}/{image.path}")
             for image in train_images]
    return root, jobs


def write_archives(
    data_root: Path,
    manifests: dict[tuple[str, str], Manifest],
    datasets: Iterable[str] = DATASET_KEYS,
    lines_per_split: int | None = None,
    train_per_class: int = 5,
    layout: str = "official",
    size: tuple[int, int] = TINY,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, Path]:
    """Generate archives for ``datasets`` under data_root; return each archive's root."""
    roots, jobs = {}, []
    for dataset in datasets:
        roots[dataset], images = write_archive(data_root, dataset, manifests, lines_per_split,
                                               train_per_class, layout, size)
        jobs += [(image, size) for image in images]
    bar = tqdm(total=len(jobs), desc="writing JPEGs", unit="img", disable=not progress)
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for _ in pool.map(_write_image, jobs, chunksize=256):
                bar.update()
    else:
        for job in jobs:
            _write_image(job)
            bar.update()
    bar.close()
    return roots


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))
