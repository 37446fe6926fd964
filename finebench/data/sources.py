"""Where each dataset's files come from: its authors' distribution point, and the checksum the
project pins where a public one exists.

The pinned checksums are the MD5 sums that torchvision's dataset classes (and the CUB loaders
derived from Caltech's release) have checked for years; no public sum exists for FGVC-Aircraft or
Stanford Dogs, so those are trusted on first download (finebench.data.download records their
sha256 and holds every later download to it).

Stanford Cars has no working official source: its authors' URLs have answered 404 since 2023
and torchvision disabled its download (pytorch/vision#7545, #8309). Its files are listed with
their pinned sums and no URL, so a copy from a mirror or placed by hand is still verified, and
CARS_MANUAL says what people do instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from .registry import DATASET_KEYS, get_dataset

ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz")


@dataclass(frozen=True)
class SourceFile:
    dataset: str
    name: str  # the file name the authors distribute, also its name under <download folder>/<dataset>/
    url: str | None  # None: no working public source (fetch it from a mirror or by hand)
    md5: str | None = None  # the public checksum, where one exists

    @property
    def key(self) -> str:
        """``<dataset>/<name>``: its path in a download folder or a mirror, and its SHA256SUMS line."""
        return f"{self.dataset}/{self.name}"

    @property
    def is_archive(self) -> bool:
        return self.name.endswith(ARCHIVE_SUFFIXES)


_OXFORD = "https://www.robots.ox.ac.uk/~vgg/data"
_DOGS = "http://vision.stanford.edu/aditya86/ImageNetDogs"
# torchvision's copy of the devkit, attached to the issue that reported the official URLs gone: taken only
# because the pinned MD5 of the official car_devkit.tgz is checked on it.
_CARS_DEVKIT = "https://github.com/pytorch/vision/files/11644847/car_devkit.tgz"

SOURCES: tuple[SourceFile, ...] = (
    SourceFile("aircraft", "fgvc-aircraft-2013b.tar.gz",
               f"{_OXFORD}/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"),
    SourceFile("bird", "CUB_200_2011.tgz", "https://data.caltech.edu/records/65de6-vp158/files/CUB_200_2011.tgz",
               "97eceeb196236b17998738112f37df78"),
    SourceFile("car", "cars_train.tgz", None, "065e5b463ae28d29e77c1b4b166cfe61"),
    SourceFile("car", "cars_test.tgz", None, "4ce7ebf6a94d07f1952d94dd34c4d501"),
    SourceFile("car", "car_devkit.tgz", _CARS_DEVKIT, "c3b158d763b6e2245038c8ad08e45376"),
    SourceFile("car", "cars_test_annos_withlabels.mat", None, "b0a2b23655a3edd16d84508592a98d10"),
    SourceFile("dog", "images.tar", f"{_DOGS}/images.tar"),
    SourceFile("dog", "lists.tar", f"{_DOGS}/lists.tar"),
    SourceFile("flower", "102flowers.tgz", f"{_OXFORD}/flowers/102/102flowers.tgz", "52808999861908f626f3c1f4e79d11fa"),
    SourceFile("flower", "imagelabels.mat", f"{_OXFORD}/flowers/102/imagelabels.mat",
               "e0620be6f572b9609742df49c70aed4d"),
    SourceFile("flower", "setid.mat", f"{_OXFORD}/flowers/102/setid.mat", "a5357ecc9cb78c4bef273ce3793fc85c"),
    SourceFile("pet", "images.tar.gz", f"{_OXFORD}/pets/data/images.tar.gz", "5c4f3ee8e5d25df40f4fd59a7f44e54c"),
    SourceFile("pet", "annotations.tar.gz", f"{_OXFORD}/pets/data/annotations.tar.gz",
               "95a8c909bbe2e81eed6a22bccdf3f68f"),
)
assert {source.dataset for source in SOURCES} == set(DATASET_KEYS)

CARS_MANUAL = (
    "Stanford Cars has no working official source (its URLs answer 404 since 2023). Either put the four "
    "original files (cars_train.tgz, cars_test.tgz, car_devkit.tgz, cars_test_annos_withlabels.mat) in "
    "{folder}/car/ and run the same command again (they are checked against their pinned MD5), or unpack "
    "Kaggle's redistribution (kaggle datasets download jessicali9530/stanford-cars-dataset: "
    "cars_train/cars_train/, cars_test/cars_test/) under --data-root with car_devkit.tgz's devkit/ and "
    "cars_test_annos_withlabels.mat beside it (pytorch/vision issue 7545 says where people get them); "
    "finebench prepare reads that layout and checks its labels against the manifests"
)


def files_of(dataset: str) -> tuple[SourceFile, ...]:
    get_dataset(dataset)  # an unknown name is refused with the list of known ones
    return tuple(source for source in SOURCES if source.dataset == dataset)
