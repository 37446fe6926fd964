"""The main job, end to end through the real lmms-eval CLI (about two minutes).

`finebench demo` generates the archives, prepares them, runs the lite benchmark for the
four reference responders and a tiny random Qwen2.5-VL (lmms-eval's qwen2_5_vl backend
on the CPU), and ingests the runs; the responders' scores are known in advance.
"""

import json

import pytest

from finebench import entries
from finebench.demo import run_demo
from finebench.ingest import ingest
from finebench.rescore import rescore


@pytest.fixture(scope="module")
def demo(tmp_path_factory, manifest_dir):
    home = tmp_path_factory.mktemp("demo-home")
    patch = pytest.MonkeyPatch()
    patch.setenv("FINEBENCH_HOME", str(home))
    built = run_demo(manifest_dir)
    yield home, {(entry["model"]["name"], entry["protocol"]): entry for entry in built}
    patch.undo()


def mean(entry, metric):
    return entry["scores"][metric]["average"]["mean"]["value"]


def cells(entry, metric):
    return [entry["scores"][metric][d][s] for d in ("aircraft", "bird", "car", "dog", "flower", "pet")
            for s in ("seen", "unseen")]


def test_ground_truth_scores_100_everywhere(demo):
    _, built = demo
    for protocol in ("finebench", "official"):
        entry = built["ground_truth", protocol]
        for metric in entries.METRICS:
            assert all(cell["value"] == pytest.approx(100, abs=1e-3) for cell in cells(entry, metric)), metric
            assert all(cell["n"] == 50 for cell in cells(entry, metric))


def test_first_option_exposes_the_position_bias(demo):
    _, built = demo
    assert mean(built["first_option", "official"], "closed_accuracy") == 100
    assert 18 <= mean(built["first_option", "finebench"], "closed_accuracy") <= 32
    assert 18 <= mean(built["random_option", "finebench"], "closed_accuracy") <= 32
    # its bootstrap interval holds the mean and has the width 600 coin flips of p = 1/4 give (about +-3.5 points)
    low, high = built["random_option", "finebench"]["scores"]["closed_accuracy"]["average"]["mean"]["ci95"]
    assert low < mean(built["random_option", "finebench"], "closed_accuracy") < high and 4 < high - low < 12


def test_all_options_is_rewarded_only_by_the_released_scorer(demo):
    _, built = demo
    assert mean(built["all_options", "official"], "closed_accuracy") == 100
    assert mean(built["all_options", "finebench"], "closed_accuracy") == 0
    assert mean(built["all_options", "official"], "open_inclusion") == 100
    assert mean(built["all_options", "finebench"], "open_inclusion") == 0


def test_the_tiny_qwen_ran_through_the_qwen2_5_vl_backend(demo):
    home, built = demo
    entry = built["tiny_qwen2_5_vl", "finebench"]
    assert entry["model"]["backend"] == "qwen2_5_vl" and entry["text_encoder"] == "minilm"
    assert all(cell["n"] == 50 for metric in entries.METRICS for cell in cells(entry, metric))
    assert entry["provenance"]["cli_generation_override"] == {"max_new_tokens": 24}
    samples = next((home / "demo-runs" / "tiny_qwen2_5_vl").rglob("*_samples_finegrained_lite_bird_seen_open.jsonl"))
    record = json.loads(samples.read_text().splitlines()[0])
    assert {"official_inclusion", "finebench_inclusion", "official_similarity", "finebench_similarity"} <= set(record)
    assert record["finebench_similarity"]["dataset"] == "bird" and "answer" in record["finebench_similarity"]


def test_rescoring_reproduces_the_run_and_ingests(demo, tmp_path):
    home, built = demo
    target = rescore(home / "demo-runs" / "all_options", tmp_path / "rescored", "minilm")
    assert json.loads(target.read_text())["finebench_rescore"]["encoder"] == "minilm"
    paths = ingest(tmp_path / "rescored", tmp_path / "entries", name="all_options")
    again = {entries.read(path)["protocol"]: entries.read(path) for path in paths}
    for protocol in ("finebench", "official"):
        for metric in entries.METRICS:
            assert mean(again[protocol], metric) == pytest.approx(mean(built["all_options", protocol], metric))


def test_entries_are_written_and_valid(demo):
    home, _ = demo
    written = sorted((home / "demo-results").glob("*.json"))
    assert len(written) == 10
    assert all(entries.read(path)["subset"] == "lite" for path in written)
