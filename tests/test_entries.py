import json

import numpy as np
import pytest

from finebench.errors import FinebenchError
from finebench.harness.responders import AllOptions, RandomOption, options_in_prompt
from finebench.results import entries
from finebench.scoring.prompts import closed_prompt
from finebench.scoring.stats import bootstrap_means, interval


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_n():
    rng = np.random.default_rng(0)
    small, large = rng.integers(0, 2, 50) * 100.0, rng.integers(0, 2, 5000) * 100.0
    for scores in (small, large):
        low, high = interval(bootstrap_means(scores))
        assert low <= scores.mean() <= high
    assert np.ptp(interval(bootstrap_means(large))) < np.ptp(interval(bootstrap_means(small)))
    assert interval(bootstrap_means([100.0] * 20)) == (100.0, 100.0)
    assert np.array_equal(bootstrap_means(small, seed=3), bootstrap_means(small, seed=3))


def minimal_entry(**changes):
    cell = {"value": 50.0, "n": 10, "ci95": [40.0, 60.0]}
    entry = {"schema_version": 1, "model": {"name": "m"}, "protocol": "finebench", "subset": "lite",
             "text_encoder": None, "source": "reproduced",
             "scores": {"closed_accuracy": {"bird": {"seen": cell, "unseen": cell}}}, "provenance": {}}
    entry.update(changes)
    return entry


def test_entries_are_validated_on_write_and_read(tmp_path):
    path = entries.write(minimal_entry(), tmp_path / "e.json")
    assert entries.read(path)["model"]["name"] == "m"
    with pytest.raises(FinebenchError, match="protocol: .*must be one of"):
        entries.validate(minimal_entry(protocol="paper"))
    with pytest.raises(FinebenchError, match="scores/closed_accuracy: .*must not contain"):
        entries.validate(minimal_entry(scores={"closed_accuracy": {"birds": {}}}))
    (tmp_path / "bad.json").write_text(json.dumps(minimal_entry(schema_version=2)))
    with pytest.raises(FinebenchError, match="bad.json is not a valid result entry"):
        entries.read(tmp_path / "bad.json")
    with pytest.raises(FinebenchError):
        entries.write(minimal_entry(source="rumour"), tmp_path / "bad2.json")
    assert not (tmp_path / "bad2.json").exists()  # an invalid entry is never written
    assert json.loads(entries.dumps(minimal_entry())) == minimal_entry() == json.loads(path.read_bytes())
    with pytest.raises(FinebenchError, match="hub/e.json is not a valid result entry"):
        entries.dumps(minimal_entry(source="rumour"), "hub/e.json")


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 1e308, -0.5, 100.01])
def test_scores_must_be_finite_percentages(value, tmp_path):
    cell = {"value": 50.0, "n": 10, "ci95": [40.0, value]}
    with pytest.raises(FinebenchError, match=r"scores/closed_accuracy/bird/seen/ci95 is .*not a percentage"):
        entries.validate(minimal_entry(scores={"closed_accuracy": {"bird": {"seen": cell}}}))
    (tmp_path / "e.json").write_text(json.dumps(minimal_entry(scores={"closed_accuracy": {"bird": {"seen": {
        "value": value, "n": 10}}}})))
    with pytest.raises(FinebenchError, match="bird/seen/value"):  # json reads NaN and Infinity: refused too
        entries.read(tmp_path / "e.json")


def test_table_and_file_name():
    entry = minimal_entry(model={"name": "Qwen/Qwen2.5-VL-7B"})
    assert entries.file_name(entry).startswith("Qwen_Qwen2.5-VL-7B__finebench__lite__reproduced__")
    main = minimal_entry(model={"name": "Qwen/Qwen2.5-VL-7B", "revision": "main"})
    assert entries.file_name(main) == entries.file_name(entry)  # no revision means main
    other = minimal_entry(model={"name": "Qwen/Qwen2.5-VL-7B", "revision": "refs/pr/3"})
    assert entries.file_name(other).startswith("Qwen_Qwen2.5-VL-7B@refs_pr_3__finebench__lite__")  # not main's file
    # names that fold to the same readable part, and the same model from two sources, get files of their own
    folding = [("org/model_v1", None), ("org_model/v1", None), ("OpenGVLab/InternVL2_5-8B", None),
               ("OpenGVLab_InternVL2/5-8B", None), ("m", "feature/a"), ("m", "feature_a")]
    names = {entries.file_name(minimal_entry(model={"name": name, "revision": revision}))
             for name, revision in folding}
    names.add(entries.file_name(minimal_entry(model={"name": "org/model_v1"}, source="submitted")))
    assert len(names) == len(folding) + 1
    table = entries.format_table(entry)
    assert "closed_accuracy" in table and "50.0" in table and " - " in table


def test_responders_read_the_options_from_the_prompt():
    options = ["colt's foot", 'the "odd" one', "rose", "pink primrose"]
    prompt = closed_prompt("Which flower?", options)
    assert options_in_prompt(prompt) == options
    assert options_in_prompt("Given the question: x. This is a fine-grained question.") is None
    picker = RandomOption(seed=5)
    assert picker.choose(options, "rose", "5:task:1") == picker.choose(options, "rose", "5:task:1")
    assert len({picker.choose(options, "rose", f"5:task:{i}") for i in range(40)}) == 4
    assert AllOptions().choose(options, "rose", "k") == ", ".join(options)
