from collections import Counter

import datasets
import pytest

from finebench.data.archives import ArchiveImage
from finebench.data.fewshot import prepare_fewshot, sample_fewshot, training_pool
from finebench.data.registry import DATASETS
from finebench.errors import FinebenchError


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_k_shot_sets_hold_k_seen_training_images_per_class(dataset, small_archives, manifests, manifest_dir, home):
    results = prepare_fewshot(small_archives, manifest_dir, [dataset], shots=4, seeds=[1, 2])
    assert [status for _, status in results] == ["written", "written"]
    seen, unseen = manifests[dataset, "seen"], manifests[dataset, "unseen"]
    test_paths = {line.archive_path for manifest in (seen, unseen) for line in manifest.lines}
    tables = [datasets.load_dataset("parquet", data_files=str(path), split="train") for path, _ in results]
    for table in tables:
        assert isinstance(table.features["image"], datasets.Image)
        assert Counter(table["class_name"]) == {name: 4 for name in seen.classes}  # never an unseen class
        assert not set(table["archive_path"]) & test_paths  # never a test image
        assert set(table["archive_split"]) <= {"train", "val", "trainval"}
        assert table[0]["image"].size == (32, 24)
    assert tables[0]["archive_path"] != tables[1]["archive_path"]  # seeds differ
    again = prepare_fewshot(small_archives, manifest_dir, [dataset], shots=4, seeds=[1, 2])
    assert [status for _, status in again] == ["up to date", "up to date"]


def test_sampling_is_deterministic_and_excludes_test_paths(manifests):
    seen, unseen = manifests["car", "seen"], manifests["car", "unseen"]
    name = sorted(seen.classes)[0]
    images = [ArchiveImage(f"cars_train/{n:05d}.jpg", name, "train") for n in range(1, 9)]
    images += [ArchiveImage("cars_test/00002.jpg", name, "train")]  # a test path mislabelled as train
    images += [ArchiveImage("cars_train/09999.jpg", sorted(unseen.classes)[0], "train")]
    pool = training_pool(images, seen, unseen)
    assert [image.path for image in pool[name]] == [f"cars_train/{n:05d}.jpg" for n in range(1, 9)]
    assert sorted(unseen.classes)[0] not in pool
    only = {name: pool[name]}
    assert sample_fewshot(only, "car", 4, 1) == sample_fewshot(only, "car", 4, 1)
    assert sample_fewshot(only, "car", 4, 1) != sample_fewshot(only, "car", 4, 3)
    with pytest.raises(FinebenchError, match="fewer than 9 training images"):
        sample_fewshot(only, "car", 9, 1)


def test_fewshot_needs_the_train_metadata(small_archives, manifest_dir, home, tmp_path):
    import shutil

    shutil.copytree(small_archives / "oxford-iiit-pet" / "images", tmp_path / "oxford-pet" / "images")
    assert prepare_fewshot(tmp_path, manifest_dir) == []  # found without metadata: skipped
    with pytest.raises(FinebenchError, match="trainval.txt not found"):
        prepare_fewshot(tmp_path, manifest_dir, ["pet"])
    with pytest.raises(FinebenchError, match="--shots must be at least 1"):
        prepare_fewshot(tmp_path, manifest_dir, ["pet"], shots=0)
