"""FGVC-Aircraft 2013b: data/images/<id>.jpg, data/variants.txt, data/images_variant_<split>.txt."""

from __future__ import annotations

from typing import Iterator

from .base import ArchiveImage, ArchiveReader

SPLIT_FILE = "images_variant_{}.txt"


class AircraftReader(ArchiveReader):
    dataset = "aircraft"
    metadata_files = ("variants.txt", SPLIT_FILE.format("train"), SPLIT_FILE.format("val"),
                      SPLIT_FILE.format("test"))
    metadata_folders = ("data",)
    train_splits = ("train", "val")

    def missing_metadata(self) -> list[str]:
        missing = super().missing_metadata()
        # trainval alone (without train and val) is a complete archive too.
        if self.find_metadata(SPLIT_FILE.format("trainval")):
            missing = [name for name in missing if name not in self.metadata_files[1:3]]
        return missing

    def iter_images(self) -> Iterator[ArchiveImage]:
        with open(self.require_metadata("variants.txt"), encoding="utf-8") as handle:
            for variant in filter(None, map(str.strip, handle)):
                self.class_name(variant)  # an unknown variant means another archive version
        has_parts = all(self.find_metadata(SPLIT_FILE.format(s)) for s in ("train", "val"))
        for split in ("train", "val", "test") if has_parts else ("trainval", "test"):
            with open(self.require_metadata(SPLIT_FILE.format(split)), encoding="utf-8") as handle:
                for line in handle:
                    if not line.strip():
                        continue
                    image_id, variant = line.rstrip("\n").split(" ", 1)
                    yield ArchiveImage(f"data/images/{image_id}.jpg", self.class_name(variant), split)
