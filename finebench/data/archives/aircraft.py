"""FGVC-Aircraft 2013b: data/images/<id>.jpg, data/variants.txt, data/images_variant_<split>.txt."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from finebench.data.registry import get_dataset
from .base import ArchiveImage, ArchiveReader

_SPLIT_FILE = "images_variant_{}.txt"


class AircraftReader(ArchiveReader):
    dataset = "aircraft"
    metadata_files = ("variants.txt", _SPLIT_FILE.format("train"), _SPLIT_FILE.format("val"),
                      _SPLIT_FILE.format("test"))
    metadata_folders = ("data",)
    train_splits = ("train", "val")

    def missing_metadata(self) -> list[str]:
        missing = super().missing_metadata()
        # trainval alone (without train and val) is a complete archive too.
        if self.find_metadata(_SPLIT_FILE.format("trainval")):
            missing = [name for name in missing if name not in self.metadata_files[1:3]]
        return missing

    def iter_images(self) -> Iterator[ArchiveImage]:
        with open(self.require_metadata("variants.txt"), encoding="utf-8") as handle:
            for variant in filter(None, map(str.strip, handle)):
                self.class_name(variant)  # an unknown variant means another archive version
        has_parts = all(self.find_metadata(_SPLIT_FILE.format(s)) for s in ("train", "val"))
        for split in ("train", "val", "test") if has_parts else ("trainval", "test"):
            with open(self.require_metadata(_SPLIT_FILE.format(split)), encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    image_id, variant = line.rstrip("\n").split(" ", 1)
                    yield ArchiveImage(f"data/images/{image_id}.jpg", self.class_name(variant), split)

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        info = get_dataset("aircraft")
        variant_of = dict(zip(info.class_names, info.archive_labels))
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        (data / "variants.txt").write_text("\n".join(info.archive_labels) + "\n", encoding="utf-8")
        by_split: dict[str, list[str]] = {"train": [], "val": [], "test": []}
        for image in images:
            image_id = Path(image.path).stem
            by_split[image.split].append(f"{image_id} {variant_of[image.class_name]}")
        for split, lines in by_split.items():
            (data / _SPLIT_FILE.format(split)).write_text("\n".join(lines) + "\n", encoding="utf-8")
        trainval = by_split["train"] + by_split["val"]
        (data / _SPLIT_FILE.format("trainval")).write_text("\n".join(trainval) + "\n", encoding="utf-8")

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        return f"data/images/{9_000_000 + number:07d}.jpg"
