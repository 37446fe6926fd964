"""Oxford-IIIT Pet: images/<Breed>_<n>.jpg with annotations/trainval.txt, test.txt and
list.txt ("<image> <class id> <species> <breed id>"; cats' breeds are capitalised)."""

from __future__ import annotations

from typing import Iterator

from .base import ArchiveImage, ArchiveReader, read_text_rows

SPLIT_FILES = {"trainval": "trainval.txt", "test": "test.txt"}


class PetReader(ArchiveReader):
    dataset = "pet"
    metadata_files = tuple(SPLIT_FILES.values())
    metadata_folders = ("annotations",)
    train_splits = ("trainval",)

    def iter_images(self) -> Iterator[ArchiveImage]:
        for split, filename in SPLIT_FILES.items():
            for row in read_text_rows(self.require_metadata(filename)):
                label = self.info.archive_labels[int(row[1]) - 1]
                yield ArchiveImage(f"images/{row[0]}.jpg", self.class_name(label), split)
