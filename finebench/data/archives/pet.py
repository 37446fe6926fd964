"""Oxford-IIIT Pet: images/<Breed>_<n>.jpg with annotations/trainval.txt, test.txt and
list.txt ("<image> <class id> <species> <breed id>"; cats' breeds are capitalised)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

from finebench.data.registry import get_dataset
from .base import ArchiveImage, ArchiveReader, read_text_rows

_SPLIT_FILES = {"trainval": "trainval.txt", "test": "test.txt"}
_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Cat 1:12:Dog\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n"
)


class PetReader(ArchiveReader):
    dataset = "pet"
    metadata_files = tuple(_SPLIT_FILES.values())
    metadata_folders = ("annotations",)
    train_splits = ("trainval",)

    def iter_images(self) -> Iterator[ArchiveImage]:
        for split, filename in _SPLIT_FILES.items():
            for row in read_text_rows(self.require_metadata(filename)):
                label = self.info.archive_labels[int(row[1]) - 1]
                yield ArchiveImage(f"images/{row[0]}.jpg", self.class_name(label), split)

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        info = get_dataset("pet")
        cats = [label for label in info.archive_labels if label[0].isupper()]
        dogs = [label for label in info.archive_labels if not label[0].isupper()]
        folder = root / "annotations"
        folder.mkdir(parents=True, exist_ok=True)

        def row(image: ArchiveImage) -> str:
            label = info.archive_labels[info.class_id(image.class_name)]
            species, breeds = (1, cats) if label in cats else (2, dogs)
            stem = image.path.removeprefix("images/").removesuffix(".jpg")
            return f"{stem} {info.class_id(image.class_name) + 1} {species} {breeds.index(label) + 1}"

        rows = {split: [row(image) for image in images if image.split == split] for split in _SPLIT_FILES}
        for split, filename in _SPLIT_FILES.items():
            (folder / filename).write_text("\n".join(rows[split]) + "\n", encoding="utf-8")
        (folder / "list.txt").write_text(_HEADER + "\n".join(rows["trainval"] + rows["test"]) + "\n", encoding="utf-8")

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        return f"images/{class_label}_{1000 + number}.jpg"
