"""Writers of stand-in archives: the official metadata files of each archive, in their real formats
(``.txt`` rows, ``.mat`` through scipy.io), and its own naming of training images. fixtures.py
renders the JPEGs and lays the archives out; the readers in archives/ read both kinds alike.

The file names and layouts are the archives' facts, imported from the readers, so that a writer
cannot drift from what its reader expects.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Sequence

import numpy as np

from .archives import ArchiveImage
from .archives.aircraft import SPLIT_FILE
from .archives.car import ANNOTATIONS
from .archives.dog import LISTS
from .archives.flower import IMAGE_COUNT, SPLIT_KEYS, image_path
from .archives.pet import SPLIT_FILES
from .registry import get_dataset


class StandIn(ABC):
    """One archive's writer: its metadata files for a list of images, and its training images' names."""

    train_images_per_class: int | None = None  # fixed by the archive's layout, or None: as many as asked

    @staticmethod
    @abstractmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        """Write the official metadata files for these images."""

    @staticmethod
    @abstractmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        """A file path for the number-th generated training image (0-based), in the archive's own naming,
        never one of test_paths (the archive's test images)."""


class AircraftStandIn(StandIn):
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
            (data / SPLIT_FILE.format(split)).write_text("\n".join(lines) + "\n", encoding="utf-8")
        trainval = by_split["train"] + by_split["val"]
        (data / SPLIT_FILE.format("trainval")).write_text("\n".join(trainval) + "\n", encoding="utf-8")

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        return f"data/images/{9_000_000 + number:07d}.jpg"


class BirdStandIn(StandIn):
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


class CarStandIn(StandIn):
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
        for split, filename in ANNOTATIONS.items():
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


class DogStandIn(StandIn):
    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        import scipy.io

        info = get_dataset("dog")
        lists = root / "lists"
        lists.mkdir(parents=True, exist_ok=True)
        for split, filename in LISTS.items():
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


@functools.lru_cache(maxsize=4)
def _free_flower_numbers(test_paths: frozenset[str]) -> tuple[int, ...]:
    """The image numbers no test image uses, in order: computed once per archive, not per training image."""
    return tuple(number for number in range(1, IMAGE_COUNT + 1) if image_path(number) not in test_paths)


class FlowerStandIn(StandIn):
    train_images_per_class = 20  # exactly 10 train + 10 val per class, the 2,040 numbers tests leave free

    @staticmethod
    def write_metadata(root: Path, images: Sequence[ArchiveImage]) -> None:
        import scipy.io

        info = get_dataset("flower")
        root.mkdir(parents=True, exist_ok=True)
        labels = np.zeros((1, IMAGE_COUNT), dtype=np.uint8)
        numbers: dict[str, list[int]] = {split: [] for split in SPLIT_KEYS}
        for image in images:
            number = int(image.path[len("jpg/image_"):-len(".jpg")])
            labels[0, number - 1] = info.class_id(image.class_name) + 1
            numbers[image.split].append(number)
        scipy.io.savemat(root / "imagelabels.mat", {"labels": labels})
        scipy.io.savemat(root / "setid.mat", {key: np.array([numbers[split]], dtype=np.uint16)
                                              for split, key in SPLIT_KEYS.items()})

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        # The 2,040 image numbers the test split leaves free are the train and val images.
        free = _free_flower_numbers(test_paths)
        if number >= len(free):
            raise ValueError("Flowers-102 has 8,189 image numbers; no free one is left for training images")
        return image_path(free[number])


_PET_LIST_HEADER = (
    "#Image CLASS-ID SPECIES BREED ID\n"
    "#ID: 1:37 Class ids\n"
    "#SPECIES: 1:Cat 2:Dog\n"
    "#BREED ID: 1-25:Cat 1:12:Dog\n"
    "#All images with 1st letter as captial are cat images\n"
    "#images with small first letter are dog images\n"
)


class PetStandIn(StandIn):
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

        rows = {split: [row(image) for image in images if image.split == split] for split in SPLIT_FILES}
        for split, filename in SPLIT_FILES.items():
            (folder / filename).write_text("\n".join(rows[split]) + "\n", encoding="utf-8")
        (folder / "list.txt").write_text(_PET_LIST_HEADER + "\n".join(rows["trainval"] + rows["test"]) + "\n",
                                         encoding="utf-8")

    @staticmethod
    def train_image_path(class_label: str, number: int, test_paths: frozenset[str]) -> str:
        return f"images/{class_label}_{1000 + number}.jpg"


STANDINS: dict[str, type[StandIn]] = {"aircraft": AircraftStandIn, "bird": BirdStandIn, "car": CarStandIn,
                                      "dog": DogStandIn, "flower": FlowerStandIn, "pet": PetStandIn}
