"""Stanford Cars: cars_train/ and cars_test/ (which reuse file names such as 00001.jpg)
with the devkit's cars_meta.mat and cars_train_annos.mat, and the separately released
cars_test_annos_withlabels.mat."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np

from .base import ArchiveImage, ArchiveReader

ANNOTATIONS = {"train": "cars_train_annos.mat", "test": "cars_test_annos_withlabels.mat"}


def _load_mat(path: Path) -> dict:
    import scipy.io

    return scipy.io.loadmat(path, squeeze_me=True)


class CarReader(ArchiveReader):
    dataset = "car"
    metadata_files = ("cars_meta.mat", *ANNOTATIONS.values())
    metadata_folders = (".", "devkit", "car_devkit/devkit")

    def iter_images(self) -> Iterator[ArchiveImage]:
        meta = _load_mat(self.require_metadata("cars_meta.mat"))
        class_names = [str(name) for name in np.atleast_1d(meta["class_names"])]
        for split, filename in ANNOTATIONS.items():
            annotations = np.atleast_1d(_load_mat(self.require_metadata(filename))["annotations"])
            for fname, label in zip(annotations["fname"], annotations["class"]):
                yield ArchiveImage(f"cars_{split}/{fname}", self.class_name(class_names[int(label) - 1]), split)
