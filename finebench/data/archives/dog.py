"""Stanford Dogs: Images/<wnid>-<Name>/<file>.jpg with lists/train_list.mat and
lists/test_list.mat (file_list relative to Images/, labels 1-based)."""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .base import ArchiveImage, ArchiveReader

LISTS = {"train": "train_list.mat", "test": "test_list.mat"}


class DogReader(ArchiveReader):
    dataset = "dog"
    metadata_files = tuple(LISTS.values())
    metadata_folders = ("lists", ".")

    def iter_images(self) -> Iterator[ArchiveImage]:
        import scipy.io

        for split, filename in LISTS.items():
            listing = scipy.io.loadmat(self.require_metadata(filename), squeeze_me=True)
            for relative in np.atleast_1d(listing["file_list"]):
                relative = str(relative)
                yield ArchiveImage(f"Images/{relative}", self.class_name(relative.split("/", 1)[0]), split)
