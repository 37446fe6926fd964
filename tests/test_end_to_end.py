"""The main job, end to end through the real lmms-eval CLI (about two minutes).

`finebench demo` generates the archives, prepares them, runs the lite benchmark for the
four reference responders and a tiny random Qwen2.5-VL (lmms-eval's qwen2_5_vl backend
on the CPU), and ingests the runs; the responders' scores are known in advance. It runs
in a FINEBENCH_HOME that already holds a user's benchmark prepared from other archives,
which it must leave byte for byte as it was.
"""

import hashlib
import json
import os
import shutil
import stat

import pytest

from finebench.demo import run_demo
from finebench.harness.rescore import rescore
from finebench.results import entries
from finebench.results.ingest import ingest

UMASK = 0o027  # not the usual 0o022, so that honouring it cannot happen by accident
USER_ARCHIVES = "/data/users-own-archives"


def digests(folder):
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def as_if_from(folder, archive_root):
    """Rewrite a prepared home's metadata as if it had been prepared from archive_root."""
    for path in (folder / "prepared" / "metadata.json", folder / "fewshot" / "metadata.json"):
        metadata = json.loads(path.read_text())
        for record in (metadata["units"].values() if "units" in metadata else metadata.values()):
            record["archive_root"] = archive_root
        path.write_text(json.dumps(metadata))


@pytest.fixture(scope="module")
def demo(tmp_path_factory, manifest_dir, prepared_home):
    """The demo in a home holding a user's prepared data. Its stand-in archives and their prepared
    data are seeded from prepared_home (the same generated archives, so its prepare finds them up
    to date): writing archives and preparing them are tested on their own, and here the time goes
    to the five lmms-eval runs, as it does for a user."""
    home = tmp_path_factory.mktemp("demo-home")
    for folder in ("prepared", "fewshot"):
        shutil.copytree(prepared_home / folder, home / folder)
    as_if_from(home, USER_ARCHIVES)
    users_data = digests(home)
    (home / "demo").mkdir()
    (home / "demo" / "archives").symlink_to(prepared_home / "archives")
    (prepared_home / "archives" / ".complete").touch()
    for folder in ("prepared", "fewshot"):
        shutil.copytree(prepared_home / folder, home / "demo" / folder)
    patch = pytest.MonkeyPatch()
    patch.setenv("FINEBENCH_HOME", str(home))
    previous_umask = os.umask(UMASK)
    try:
        built = run_demo(manifest_dir)
    finally:
        os.umask(previous_umask)
        patch.undo()
    yield home, {(entry["model"]["name"], entry["protocol"]): entry for entry in built}, users_data


def mean(entry, metric):
    return entry["scores"][metric]["average"]["mean"]["value"]


def cells(entry, metric):
    return [entry["scores"][metric][d][s] for d in ("aircraft", "bird", "car", "dog", "flower", "pet")
            for s in ("seen", "unseen")]


@pytest.mark.slow(seconds=170)  # the demo fixture, which the module's tests share
def test_ground_truth_scores_100_everywhere(demo):
    _, built, _ = demo
    for protocol in ("finebench", "official"):
        entry = built["ground_truth", protocol]
        for metric in entries.protocol_metrics(protocol):
            assert all(cell["value"] == pytest.approx(100, abs=1e-3) for cell in cells(entry, metric)), metric
            assert all(cell["n"] == 50 for cell in cells(entry, metric))


def test_first_option_exposes_the_position_bias(demo):
    _, built, _ = demo
    assert mean(built["first_option", "official"], "closed_accuracy") == 100
    assert 18 <= mean(built["first_option", "finebench"], "closed_accuracy") <= 32
    assert 18 <= mean(built["random_option", "finebench"], "closed_accuracy") <= 32
    # its bootstrap interval holds the mean and has the width 600 coin flips of p = 1/4 give (about +-3.5 points)
    low, high = built["random_option", "finebench"]["scores"]["closed_accuracy"]["average"]["mean"]["ci95"]
    assert low < mean(built["random_option", "finebench"], "closed_accuracy") < high and 4 < high - low < 12


def test_all_options_is_rewarded_only_by_the_released_scorer(demo):
    _, built, _ = demo
    assert mean(built["all_options", "official"], "closed_accuracy") == 100
    assert mean(built["all_options", "finebench"], "closed_accuracy") == 0
    assert mean(built["all_options", "official"], "open_inclusion") == 100
    assert mean(built["all_options", "finebench"], "open_inclusion") == 0


def test_the_tiny_qwen_ran_through_the_qwen2_5_vl_backend(demo):
    home, built, _ = demo
    entry = built["tiny_qwen2_5_vl", "finebench"]
    assert entry["model"]["backend"] == "qwen2_5_vl" and entry["text_encoder"] == "minilm"
    assert all(cell["n"] == 50 for metric in entries.protocol_metrics("finebench") for cell in cells(entry, metric))
    assert entry["provenance"]["cli_generation_override"] == {"max_new_tokens": 24}
    run = home / "demo" / "runs" / "tiny_qwen2_5_vl"
    samples = next(run.rglob("*_samples_finegrained-lite_bird_seen_open.jsonl"))
    record = json.loads(samples.read_text().splitlines()[0])
    assert {"official_inclusion", "finebench_inclusion", "official_similarity", "finebench_similarity"} <= set(record)
    assert record["finebench_similarity"]["dataset"] == "bird" and "answer" in record["finebench_similarity"]


@pytest.mark.slow(seconds=20)
def test_rescoring_reproduces_the_run_and_ingests(demo, tmp_path):
    home, built, _ = demo
    target = rescore(home / "demo" / "runs" / "all_options", tmp_path / "rescored", "minilm")
    assert json.loads(target.read_text())["finebench_rescore"]["encoder"] == "minilm"
    paths = ingest(tmp_path / "rescored", tmp_path / "entries", name="all_options")
    again = {entries.read(path)["protocol"]: entries.read(path) for path in paths}
    for protocol in ("finebench", "official"):
        for metric in entries.protocol_metrics(protocol):
            assert mean(again[protocol], metric) == pytest.approx(mean(built["all_options", protocol], metric))


def test_entries_are_written_and_valid(demo):
    home, _, _ = demo
    written = sorted((home / "demo" / "results").glob("*.json"))
    assert len(written) == 10
    assert all(entries.read(path)["subset"] == "lite" for path in written)


def test_the_users_own_data_is_left_byte_for_byte(demo):
    home, _, users_data = demo
    after = {name: digest for name, digest in digests(home).items() if not name.startswith("demo/")}
    assert after == users_data
    metadata = json.loads((home / "prepared" / "metadata.json").read_text())
    assert {record["archive_root"] for record in metadata["units"].values()} == {USER_ARCHIVES}


def test_what_the_demo_wrote_has_the_mode_the_umask_gives(demo):
    home, _, _ = demo
    written = [path for folder in ("runs", "results") for path in (home / "demo" / folder).rglob("*")
               if path.is_file()]
    assert len(written) > 20
    modes = {oct(stat.S_IMODE(path.stat().st_mode)) for path in written}
    assert modes == {oct(0o666 & ~UMASK)}
