"""Stanford Dogs: Images/<wnid>-<Name>/<file>.jpg with lists/train_list.mat and
lists/test_list.mat (file_list relative to Images/, labels 1-based)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from finebench.data.registry import get_dataset
from .base import ArchiveImage, ArchiveReader

_LISTS = {"train": "train_list.mat", "test": "test_list.mat"}


class DogReader(ArchiveReader):
    dataset = "dog"
    metadata_files = tuple(_LISTS.values())
    metadata_folders = ("lists", ".")

    def iter_images(self) -> Iterator[ArchiveImage]:
        import scipy.io

        for split, filename in _LISTS.items():
            listing = scipy.io.loadmat(self.require_metadata(filename), squeeze_me=True)
            for relative in np.atleast_1d(listing["file_list"]):
                relative = str(relative)
                yield ArchiveImage(f"Images/{relative}", self.class_name(relative.split("/", 1)[0]), split)

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        import scipy.io

        info = get_dataset("dog")
        lists = root / "lists"
        lists.mkdir(parents=True, exist_ok=True)
        for split, filename in _LISTS.items():
            chosen = [image for image in images if image.split == split]
            files = np.empty((len(chosen), 1), dtype=object)
            files[:, 0] = [image.path.removeprefix("Images/") for image in chosen]
            annotations = np.empty((len(chosen), 1), dtype=object)
            annotations[:, 0] = [image.path.removeprefix("Images/").removesuffix(".jpg") for image in chosen]
            labels = np.array([[info.class_id(image.class_name) + 1] for image in chosen], dtype=np.float64)
            scipy.io.savemat(lists / filename, {"file_list": files, "annotation_list": annotations,
                                                "labels": labels.reshape(-1, 1)})

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        wnid = class_label.split("-", 1)[0]
        return f"Images/{class_label}/{wnid}_{900_000 + number}.jpg"
