"""CUB-200-2011: images/<NNN.Name>/<file>.jpg with images.txt, image_class_labels.txt,
train_test_split.txt and classes.txt (all "<id> <value>" rows, 1-based ids)."""

from __future__ import annotations

from typing import Iterator

from .base import ArchiveImage, ArchiveReader, read_text_rows


class BirdReader(ArchiveReader):
    dataset = "bird"
    metadata_files = ("images.txt", "image_class_labels.txt", "train_test_split.txt", "classes.txt")

    def _table(self, name: str) -> dict[str, str]:
        return {row[0]: row[1] for row in read_text_rows(self.require_metadata(name))}

    def iter_images(self) -> Iterator[ArchiveImage]:
        classes = self._table("classes.txt")
        labels = self._table("image_class_labels.txt")
        is_train = self._table("train_test_split.txt")
        for image_id, relative in self._table("images.txt").items():
            split = "train" if is_train[image_id] == "1" else "test"
            yield ArchiveImage(f"images/{relative}", self.class_name(classes[labels[image_id]]), split)
