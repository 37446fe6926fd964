"""The six datasets of the benchmark: names, words and classes, in one table."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from typing import Callable

from finebench.errors import FinebenchError

from . import classnames


@dataclass(frozen=True)
class DatasetInfo:
    key: str
    display_name: str
    super_category: str  # the word finebench's open-world similarity is relative to
    manifest_folder: str  # first component of every image_path in the manifests
    archive_name: str  # what people download, for messages
    label_to_class_name: Callable[[str], str]

    @functools.cached_property
    def archive_labels(self) -> tuple[str, ...]:
        """The archive's own class labels in its official order (class id = position)."""
        text = resources.files("finebench.data").joinpath("classes", f"{self.key}.txt").read_text("utf-8")
        return tuple(line for line in text.splitlines() if line)

    @functools.cached_property
    def class_names(self) -> tuple[str, ...]:
        """Class names as the manifests spell them, in the archive's official order."""
        return tuple(self.label_to_class_name(label) for label in self.archive_labels)

    @functools.cached_property
    def _class_ids(self) -> dict[str, int]:
        return {name: index for index, name in enumerate(self.class_names)}

    def is_class(self, class_name: str) -> bool:
        return class_name in self._class_ids

    def class_id(self, class_name: str) -> int:
        try:
            return self._class_ids[class_name]
        except KeyError:
            raise FinebenchError(
                f"{class_name!r} is not a {self.display_name} class",
                f"class names are those of the official manifests, e.g. {self.class_names[0]!r}",
            ) from None


DATASETS: dict[str, DatasetInfo] = {
    info.key: info
    for info in (
        DatasetInfo("aircraft", "FGVC-Aircraft", "aircraft", "fgvc_aircraft",
                    "fgvc-aircraft-2013b.tar.gz", classnames.aircraft_name),
        DatasetInfo("bird", "CUB-200-2011", "bird", "bird_200",
                    "CUB_200_2011.tgz", classnames.bird_name),
        DatasetInfo("car", "Stanford Cars", "car", "stanford-cars",
                    "cars_train.tgz, cars_test.tgz, car_devkit.tgz, cars_test_annos_withlabels.mat",
                    classnames.car_name),
        DatasetInfo("dog", "Stanford Dogs", "dog", "dogs_120",
                    "images.tar and lists.tar", classnames.dog_name),
        DatasetInfo("flower", "Oxford Flowers-102", "flower", "flower102",
                    "102flowers.tgz, imagelabels.mat, setid.mat", classnames.flower_name),
        DatasetInfo("pet", "Oxford-IIIT Pet", "pet", "oxford-pet",
                    "images.tar.gz and annotations.tar.gz", classnames.pet_name),
    )
}

DATASET_KEYS = tuple(DATASETS)
SPLITS = ("seen", "unseen")


def get_dataset(key: str) -> DatasetInfo:
    try:
        return DATASETS[key]
    except KeyError:
        raise FinebenchError(
            f"unknown dataset {key!r}", f"choose among: {', '.join(DATASET_KEYS)}"
        ) from None


def parse_dataset_list(keys: list[str] | None) -> tuple[str, ...]:
    """Validate a user's --datasets list; None or empty means all six."""
    if not keys:
        return DATASET_KEYS
    return tuple(get_dataset(key).key for key in dict.fromkeys(keys))
