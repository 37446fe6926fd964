"""Stanford Cars: cars_train/ and cars_test/ (which reuse file names such as 00001.jpg)
with the devkit's cars_meta.mat and cars_train_annos.mat, and the separately released
cars_test_annos_withlabels.mat."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from finebench.data.registry import get_dataset
from .base import ArchiveImage, ArchiveReader

_ANNOTATIONS = {"train": "cars_train_annos.mat", "test": "cars_test_annos_withlabels.mat"}


def _load_mat(path: Path) -> dict:
    import scipy.io

    return scipy.io.loadmat(path, squeeze_me=True)


class CarReader(ArchiveReader):
    dataset = "car"
    metadata_files = ("cars_meta.mat", *_ANNOTATIONS.values())
    metadata_folders = (".", "devkit", "car_devkit/devkit")

    def iter_images(self) -> Iterator[ArchiveImage]:
        class_names = [str(name) for name in np.atleast_1d(_load_mat(self.require_metadata("cars_meta.mat"))["class_names"])]
        for split, filename in _ANNOTATIONS.items():
            annotations = np.atleast_1d(_load_mat(self.require_metadata(filename))["annotations"])
            for fname, label in zip(annotations["fname"], annotations["class"]):
                yield ArchiveImage(f"cars_{split}/{fname}", self.class_name(class_names[int(label) - 1]), split)

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        import scipy.io

        info = get_dataset("car")
        devkit = root / "devkit"
        devkit.mkdir(parents=True, exist_ok=True)
        class_names = np.empty((1, len(info.archive_labels)), dtype=object)
        class_names[0, :] = list(info.archive_labels)
        scipy.io.savemat(devkit / "cars_meta.mat", {"class_names": class_names})
        fields = [(name, "O") for name in ("bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname")]
        for split, filename in _ANNOTATIONS.items():
            chosen = [image for image in images if image.split == split]
            annotations = np.zeros((1, len(chosen)), dtype=fields)
            for column, image in enumerate(chosen):
                annotations[0, column] = (np.uint8(0), np.uint8(0), np.uint16(31), np.uint16(23),
                                          np.uint8(info.class_id(image.class_name) + 1), image.path.split("/")[-1])
            # The test annotations with labels are a separate download people keep beside the devkit.
            scipy.io.savemat((devkit if split == "train" else root) / filename, {"annotations": annotations})

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        # Like the real archive: train file names start at 00001.jpg, as the test ones do.
        return f"cars_train/{number + 1:05d}.jpg"
