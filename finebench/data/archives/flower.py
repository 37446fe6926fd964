"""Oxford Flowers-102: jpg/image_NNNNN.jpg with imagelabels.mat (labels 1..102 for all
8,189 images) and setid.mat (trnid, valid, tstid: 1-based image numbers). The archive
has no class names; finebench ships the usual list, in label order."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .base import ArchiveImage, ArchiveReader

IMAGE_COUNT = 8189
SPLIT_KEYS = {"train": "trnid", "val": "valid", "test": "tstid"}


def image_path(number: int) -> str:
    return f"jpg/image_{number:05d}.jpg"


class FlowerReader(ArchiveReader):
    dataset = "flower"
    metadata_files = ("imagelabels.mat", "setid.mat")
    train_splits = ("train", "val")

    def iter_images(self) -> Iterator[ArchiveImage]:
        import scipy.io

        labels = np.atleast_1d(scipy.io.loadmat(self.require_metadata("imagelabels.mat"), squeeze_me=True)["labels"])
        splits = scipy.io.loadmat(self.require_metadata("setid.mat"), squeeze_me=True)
        for split, key in SPLIT_KEYS.items():
            for number in np.atleast_1d(splits[key]):
                label = self.info.archive_labels[int(labels[int(number) - 1]) - 1]
                yield ArchiveImage(image_path(int(number)), self.class_name(label), split)
