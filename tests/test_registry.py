from collections import Counter

import pytest

from finebench.data.classnames import official_super_category
from finebench.data.manifests import SPECS
from finebench.data.registry import DATASETS, get_dataset, parse_dataset_list
from finebench.errors import FinebenchError

CLASS_COUNTS = {"aircraft": 100, "bird": 200, "car": 196, "dog": 120, "flower": 102, "pet": 37}


@pytest.mark.parametrize("dataset", list(DATASETS))
def test_class_name_rules_give_exactly_the_manifest_classes(dataset, manifests):
    info = get_dataset(dataset)
    manifest_classes = manifests[dataset, "seen"].classes | manifests[dataset, "unseen"].classes
    assert len(info.class_names) == CLASS_COUNTS[dataset] == len(set(info.class_names))
    assert set(info.class_names) == manifest_classes
    assert SPECS[dataset, "seen"].classes + SPECS[dataset, "unseen"].classes == CLASS_COUNTS[dataset]


def test_rules_on_archive_labels():
    assert get_dataset("aircraft").label_to_class_name("737-800") == "Boeing 737-800"
    assert get_dataset("aircraft").label_to_class_name("A330-200") == "Airbus A330-200"
    assert get_dataset("aircraft").label_to_class_name("Boeing 717") == "Boeing 717"
    assert get_dataset("aircraft").label_to_class_name("ATR-72") == "ATR-72"
    assert get_dataset("bird").label_to_class_name("029.American_Crow") == "American Crow"
    assert get_dataset("dog").label_to_class_name("n02089078-black-and-tan_coonhound") == "Black And Tan Coonhound"
    assert get_dataset("pet").label_to_class_name("american_pit_bull_terrier") == "American Pit Bull Terrier"
    assert get_dataset("car").class_names[0] == "AM General Hummer SUV 2000"
    assert get_dataset("flower").class_names[:2] == ("pink primrose", "hard-leaved pocket orchid")


def test_class_ids_follow_official_order():
    assert get_dataset("bird").class_id("Black Footed Albatross") == 0
    assert get_dataset("bird").class_id("Common Yellowthroat") == 199
    assert get_dataset("dog").class_id("Chihuahua") == 0
    assert get_dataset("pet").class_id("Abyssinian") == 0 and get_dataset("pet").class_id("American Bulldog") == 1
    with pytest.raises(FinebenchError, match="not a Stanford Dogs class"):
        get_dataset("dog").class_id("Wolf")


def test_super_category_words():
    assert [info.super_category for info in DATASETS.values()] == ["aircraft", "bird", "car", "dog", "flower", "pet"]


def test_official_super_category_reproduces_the_released_path_guess(manifests):
    guessed = {dataset: Counter(official_super_category(line.image_path) for line in manifest.lines)
               for (dataset, _), manifest in manifests.items()}
    assert set(guessed["aircraft"]) == {"aircraft"} and set(guessed["car"]) == {"car"}
    assert set(guessed["flower"]) == {"flower"}
    # With the released paths, birds, dogs and pets all fall through to "object".
    assert set(guessed["bird"]) == set(guessed["dog"]) == set(guessed["pet"]) == {"object"}
    assert official_super_category("data/birds/x.jpg") == "bird"


def test_dataset_selection_errors_name_the_choices():
    assert parse_dataset_list(None) == tuple(DATASETS)
    assert parse_dataset_list(["pet", "bird", "pet"]) == ("pet", "bird")
    with pytest.raises(FinebenchError, match="choose among: aircraft, bird"):
        parse_dataset_list(["cub"])
