"""What every archive reader has in common: the record it yields and how metadata is found.

An archive *root* is the folder whose relative paths match the manifests' image_path
minus their first component (``bird_200/images/001.X/a.jpg`` -> ``images/001.X/a.jpg``).
The official extraction (``CUB_200_2011/``) and the Fine-R1 folder (``bird_200/``) are
both roots; where a root is found is :mod:`finebench.data.archives.locate`'s business.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from finebench.data.registry import DatasetInfo, get_dataset
from finebench.errors import FinebenchError

TEST = "test"


@dataclass(frozen=True)
class ArchiveImage:
    path: str  # relative to the archive root, "/"-separated
    class_name: str  # exactly as the manifests spell it
    split: str  # the archive's own split: train, val, trainval or test


class ArchiveReader(ABC):
    """Reads one official archive's metadata into ArchiveImage records."""

    dataset: str
    metadata_files: tuple[str, ...]  # file names, for messages and lookup
    # Folders, relative to the root, where people's extractions put the metadata.
    metadata_folders: tuple[str, ...] = (".",)
    train_splits: tuple[str, ...] = ("train",)  # the non-test splits the fixture writer makes

    def __init__(self, root: Path):
        self.root = Path(root)

    @property
    def info(self) -> DatasetInfo:
        return get_dataset(self.dataset)

    def _metadata_search_path(self) -> tuple[Path, ...]:
        # ".." too: people often keep separately downloaded metadata beside the image folder.
        return tuple((self.root / folder).resolve() for folder in (*self.metadata_folders, ".."))

    def find_metadata(self, name: str) -> Path | None:
        for folder in self._metadata_search_path():
            candidate = folder / name
            if candidate.is_file():
                return candidate
        return None

    def missing_metadata(self) -> list[str]:
        return [name for name in self.metadata_files if self.find_metadata(name) is None]

    def require_metadata(self, name: str) -> Path:
        path = self.find_metadata(name)
        if path is None:
            where = ", ".join(map(str, self._metadata_search_path()))
            raise FinebenchError(
                f"{self.info.display_name}: metadata file {name} not found (looked in {where})",
                f"extract the complete official archive ({self.info.archive_name}) so that "
                f"{', '.join(self.metadata_files)} sit beside the images",
            )
        return path

    def class_name(self, label: str) -> str:
        """The manifest class name of an archive label, refusing labels finebench does not know."""
        name = self.info.label_to_class_name(label)
        if not self.info.is_class(name):
            raise FinebenchError(
                f"{self.info.display_name}: archive label {label!r} is not one of the benchmark's classes",
                f"this is not the archive the benchmark uses; download {self.info.archive_name}",
            )
        return name

    @abstractmethod
    def iter_images(self) -> Iterator[ArchiveImage]:
        """Every image the metadata lists, train and test."""


def read_text_rows(path: Path) -> list[list[str]]:
    """Whitespace-separated rows of a metadata text file, skipping blanks and # comments."""
    with open(path, encoding="utf-8") as handle:
        return [line.split() for line in handle if line.strip() and not line.startswith("#")]
