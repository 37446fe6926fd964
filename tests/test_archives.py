import shutil
from collections import Counter

import numpy as np
import pytest
import scipy.io

from finebench.data.archives import READERS
from finebench.data.archives.locate import archive_not_found, locate_archive
from finebench.data.fixtures import OFFICIAL_FOLDERS, write_archives
from finebench.data.registry import DATASETS, SPLITS
from finebench.errors import FinebenchError

TRAIN_SPLITS = {"aircraft": {"train", "val"}, "bird": {"train"}, "car": {"train"}, "dog": {"train"},
                "flower": {"train", "val"}, "pet": {"trainval"}}


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_reader_yields_the_manifest_labels_for_every_test_image(dataset, small_archives, manifests):
    reader = READERS[dataset](small_archives / OFFICIAL_FOLDERS[dataset])
    assert reader.missing_metadata() == []
    images = list(reader.iter_images())
    test = {image.path: image.class_name for image in images if image.split == "test"}
    expected = {line.archive_path: line.ground_truth for split in SPLITS for line in manifests[dataset, split].lines}
    assert test == expected
    train = [image for image in images if image.split != "test"]
    assert {image.split for image in train} == TRAIN_SPLITS[dataset]
    assert len({image.class_name for image in train}) == len(DATASETS[dataset].class_names)
    assert all((reader.root / image.path).is_file() for image in train)


def test_metadata_is_in_the_real_formats(small_archives):
    cars = small_archives / "stanford_cars"
    meta = scipy.io.loadmat(cars / "devkit" / "cars_meta.mat")
    assert meta["class_names"].shape == (1, 196) and meta["class_names"][0, 0][0] == "AM General Hummer SUV 2000"
    annotations = scipy.io.loadmat(cars / "cars_test_annos_withlabels.mat")["annotations"]
    assert set(annotations.dtype.names) == {"bbox_x1", "bbox_y1", "bbox_x2", "bbox_y2", "class", "fname"}
    assert annotations.shape == (1, 8041)
    dogs = scipy.io.loadmat(small_archives / "stanford_dogs" / "lists" / "test_list.mat")
    assert {"file_list", "annotation_list", "labels"} <= set(dogs) and dogs["labels"].shape == (8580, 1)
    flowers = scipy.io.loadmat(small_archives / "flowers-102" / "setid.mat")
    assert flowers["tstid"].size == 6149 and flowers["trnid"].size == flowers["valid"].size == 1020
    assert scipy.io.loadmat(small_archives / "flowers-102" / "imagelabels.mat")["labels"].shape == (1, 8189)
    assert np.all(scipy.io.loadmat(small_archives / "flowers-102" / "imagelabels.mat")["labels"] >= 1)
    cub = (small_archives / "CUB_200_2011" / "images.txt").read_text().splitlines()
    assert cub[0].split(" ", 1)[0] == "1" and len(cub) == 5794 + 1000
    pets = (small_archives / "oxford-iiit-pet" / "annotations" / "list.txt").read_text().splitlines()
    assert pets[0].startswith("#Image CLASS-ID SPECIES BREED ID")
    assert "Abyssinian_201 1 1 1" in pets and "american_bulldog_203 2 2 1" in pets
    variants = (small_archives / "fgvc-aircraft-2013b" / "data" / "images_variant_test.txt").read_text()
    assert "0116175 727-200" in variants.splitlines()


def test_cars_train_and_test_reuse_file_names(small_archives):
    images = list(READERS["car"](small_archives / "stanford_cars").iter_images())
    train = {image.path for image in images if image.split == "train"}
    assert "cars_train/00001.jpg" in train and "cars_test/00001.jpg" not in train


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_official_and_fine_r1_folders_are_both_found(dataset, small_archives, manifests, tmp_path):
    lines = manifests[dataset, "seen"].lines
    assert locate_archive(small_archives, lines) == small_archives / OFFICIAL_FOLDERS[dataset]
    write_archives(tmp_path, manifests, [dataset], lines_per_split=3, train_per_class=1, layout="fine-r1",
                   progress=False)
    assert locate_archive(tmp_path, lines) == tmp_path / DATASETS[dataset].manifest_folder


def test_nested_extraction_is_found(small_archives, manifests, tmp_path):
    shutil.copytree(small_archives / "oxford-iiit-pet", tmp_path / "downloads" / "pets" / "oxford-iiit-pet")
    found = locate_archive(tmp_path, manifests["pet", "seen"].lines)
    assert found == tmp_path / "downloads" / "pets" / "oxford-iiit-pet"


def test_an_archive_laid_out_differently_is_explained(manifests, tmp_path):
    write_archives(tmp_path, manifests, ["bird"], lines_per_split=3, train_per_class=1, progress=False)
    images = tmp_path / "CUB_200_2011" / "images"
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in images.rglob("*.jpg"):  # class folders flattened away
        path.rename(flat / path.name)
    shutil.rmtree(tmp_path / "CUB_200_2011")
    lines = manifests["bird", "seen"].lines
    assert locate_archive(tmp_path, lines) is None
    error = archive_not_found(tmp_path, "bird", lines)
    assert "laid out differently" in error.problem and str(flat) in error.problem
    assert "images/001.Black_footed_Albatross/" in error.problem and "CUB_200_2011.tgz" in error.fix


def test_no_archive_at_all(manifests, tmp_path):
    error = archive_not_found(tmp_path, "car", manifests["car", "seen"].lines)
    assert "no archive under" in error.problem and "cars_test/" in error.problem


def test_missing_and_unknown_metadata_are_named(small_archives, tmp_path):
    shutil.copytree(small_archives / "CUB_200_2011", tmp_path / "cub", ignore=shutil.ignore_patterns("*.jpg"))
    (tmp_path / "cub" / "classes.txt").unlink()
    reader = READERS["bird"](tmp_path / "cub")
    assert reader.missing_metadata() == ["classes.txt"]
    with pytest.raises(FinebenchError, match="(?s)classes.txt not found.*CUB_200_2011.tgz"):
        list(reader.iter_images())
    shutil.copytree(small_archives / "fgvc-aircraft-2013b" / "data", tmp_path / "air" / "data",
                    ignore=shutil.ignore_patterns("*.jpg"))
    variants = tmp_path / "air" / "data" / "variants.txt"
    variants.write_text(variants.read_text() + "Concorde\n")
    with pytest.raises(FinebenchError, match="'Concorde' is not one of the benchmark's classes"):
        list(READERS["aircraft"](tmp_path / "air").iter_images())


def test_aircraft_trainval_only_archive(small_archives, tmp_path):
    shutil.copytree(small_archives / "fgvc-aircraft-2013b" / "data", tmp_path / "air" / "data",
                    ignore=shutil.ignore_patterns("*.jpg"))
    for split in ("train", "val"):
        (tmp_path / "air" / "data" / f"images_variant_{split}.txt").unlink()
    reader = READERS["aircraft"](tmp_path / "air")
    assert reader.missing_metadata() == []
    assert Counter(image.split for image in reader.iter_images()) == {"test": 3333, "trainval": 500}
