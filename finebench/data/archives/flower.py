"""Oxford Flowers-102: jpg/image_NNNNN.jpg with imagelabels.mat (labels 1..102 for all
8,189 images) and setid.mat (trnid, valid, tstid: 1-based image numbers). The archive
has no class names; finebench ships the usual list, in label order."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from finebench.data.registry import get_dataset
from .base import ArchiveImage, ArchiveReader

IMAGE_COUNT = 8189
_SPLIT_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}


def _image_path(number: int) -> str:
    return f"jpg/image_{number:05d}.jpg"


@functools.lru_cache(maxsize=4)
def _free_numbers(test_paths: frozenset[str]) -> tuple[int, ...]:
    """The image numbers no test image uses, in order: computed once per archive, not per training image."""
    return tuple(number for number in range(1, IMAGE_COUNT + 1) if _image_path(number) not in test_paths)


class FlowerReader(ArchiveReader):
    dataset = "flower"
    metadata_files = ("imagelabels.mat", "setid.mat")
    train_splits = ("train", "val")
    train_images_per_class = 20  # exactly 10 train + 10 val per class, the 2,040 numbers tests leave free

    def iter_images(self) -> Iterator[ArchiveImage]:
        import scipy.io

        labels = np.atleast_1d(scipy.io.loadmat(self.require_metadata("imagelabels.mat"), squeeze_me=True)["labels"])
        splits = scipy.io.loadmat(self.require_metadata("setid.mat"), squeeze_me=True)
        for split, key in _SPLIT_KEYS.items():
            for number in np.atleast_1d(splits[key]):
                label = self.info.archive_labels[int(labels[int(number) - 1]) - 1]
                yield ArchiveImage(_image_path(int(number)), self.class_name(label), split)

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        import scipy.io

        info = get_dataset("flower")
        root.mkdir(parents=True, exist_ok=True)
        labels = np.zeros((1, IMAGE_COUNT), dtype=np.uint8)
        numbers: dict[str, list[int]] = {split: [] for split in _SPLIT_KEYS}
        for image in images:
            number = int(image.path[len("jpg/image_"):-len(".jpg")])
            labels[0, number - 1] = info.class_id(image.class_name) + 1
            numbers[image.split].append(number)
        scipy.io.savemat(root / "imagelabels.mat", {"labels": labels})
        scipy.io.savemat(root / "setid.mat", {key: np.array([numbers[split]], dtype=np.uint16)
                                              for split, key in _SPLIT_KEYS.items()})

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        # The 2,040 image numbers the test split leaves free are the train and val images.
        free = _free_numbers(test_paths)
        if number >= len(free):
            raise ValueError("Flowers-102 has 8,189 image numbers; no free one is left for training images")
        return _image_path(free[number])
