"""CUB-200-2011: images/<NNN.Name>/<file>.jpg with images.txt, image_class_labels.txt,
train_test_split.txt and classes.txt (all "<id> <value>" rows, 1-based ids)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from finebench.data.registry import get_dataset
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

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        info = get_dataset("bird")
        class_number = {name: index + 1 for index, name in enumerate(info.class_names)}
        root.mkdir(parents=True, exist_ok=True)
        rows = list(enumerate(images, start=1))
        tables = {
            "classes.txt": [f"{i} {label}" for i, label in enumerate(info.archive_labels, start=1)],
            "images.txt": [f"{i} {image.path.removeprefix('images/')}" for i, image in rows],
            "image_class_labels.txt": [f"{i} {class_number[image.class_name]}" for i, image in rows],
            "train_test_split.txt": [f"{i} {int(image.split == 'train')}" for i, image in rows],
        }
        for name, lines in tables.items():
            (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        stem = class_label.split(".", 1)[1]
        return f"images/{class_label}/{stem}_{9000 + number:04d}_{number}.jpg"
