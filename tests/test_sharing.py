"""Prepare once, read everywhere: `finebench data push|pull` and FINEBENCH_DATA through a local fsspec
destination and the Hub stand-in (tests/hubserver.py), with partial, tampered and foreign copies refused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hubserver import HubServer, as_the_hub

from finebench.data import sharing
from finebench.data.fixtures import write_archives
from finebench.data.prepare import prepare
from finebench.errors import FinebenchError

BIN = Path(sys.executable).parent
TASK = "finegrained-lite_pet_seen_closed"


@pytest.fixture(scope="module")
def pet_home(tmp_path_factory, manifests, manifest_dir):
    """A FINEBENCH_HOME with Oxford-IIIT Pet prepared from stand-ins (every test image)."""
    home = tmp_path_factory.mktemp("pet-home")
    write_archives(home / "archives", manifests, ["pet"], train_per_class=1, progress=False)
    patch = pytest.MonkeyPatch()
    patch.setenv("FINEBENCH_HOME", str(home))
    prepare(home / "archives", manifest_dir, ["pet"], progress=False)
    patch.undo()
    return home


@pytest.fixture
def from_pet_home(pet_home, monkeypatch):
    monkeypatch.setenv("FINEBENCH_HOME", str(pet_home))
    monkeypatch.delenv(sharing.DATA_VARIABLE, raising=False)
    sharing.shared_data.cache_clear()
    return pet_home


def finebench(*args, env=None):
    return subprocess.run([BIN / "finebench", *map(str, args)], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def lite_eval(tmp_path, **env):
    """`finebench eval` (preflight, then lmms-eval) of one lite task with the ground-truth responder."""
    run = tmp_path / "run"
    result = subprocess.run([BIN / "finebench", "eval", "--no-journal", "--model", "ground_truth", "--tasks", TASK,
                             "--output_path", str(run)], capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env={**os.environ, "FINEBENCH_ENCODER": "minilm", **env})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(next(run.rglob("*_results.json")).read_text())["results"][TASK]


def rows(home: Path) -> dict:
    metadata = json.loads((home / "prepared" / "metadata.json").read_text())
    return {name: (unit["rows"], unit["fingerprint"]) for name, unit in metadata["units"].items()}


@pytest.mark.slow(seconds=25)
def test_push_to_a_folder_then_pull_and_read_in_place(from_pet_home, tmp_path):
    shared = tmp_path / "shared copy"
    result = finebench("data", "push", shared.as_uri())
    assert result.returncode == 0, result.stderr
    assert json.loads((shared / "metadata.json").read_text())["shared"]["option_order"]
    other = tmp_path / "node-2"
    result = finebench("data", "pull", str(shared), env={"FINEBENCH_HOME": str(other)})
    assert result.returncode == 0 and "pulled 2 units" in result.stdout, result.stderr
    assert rows(other) == rows(from_pet_home)
    for unit in ("pet_seen", "pet_unseen"):
        for path in (from_pet_home / "prepared" / unit).iterdir():
            assert (other / "prepared" / unit / path.name).read_bytes() == path.read_bytes()
    again = finebench("data", "pull", str(shared), env={"FINEBENCH_HOME": str(other)})
    assert "everything was up to date" in again.stdout
    # in place: a node with nothing prepared reads the shared copy
    scores = lite_eval(tmp_path, FINEBENCH_HOME=str(tmp_path / "empty-home"), FINEBENCH_DATA=shared.as_uri())
    assert scores["finebench_accuracy,none"] == 100 and scores["official_accuracy,none"] == 100


@pytest.mark.slow(seconds=12)
def test_a_partial_a_tampered_and_a_foreign_copy_are_refused(from_pet_home, tmp_path):
    shared = tmp_path / "copy"
    sharing.push(str(shared))
    node = tmp_path / "node"
    lite = shared / "pet_seen" / "lite.parquet"
    original = lite.read_bytes()
    lite.unlink()  # a push cut short, or a copy someone trimmed
    with pytest.raises(FinebenchError, match="(?s)partial or mixed.*pet_seen/lite.parquet: absent"):
        sharing.SharedData(str(shared))
    lite.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # same size, one bit changed
    with pytest.raises(FinebenchError, match="sha256 .* metadata says"):
        sharing.pull(str(shared), home=node)
    assert not (node / "prepared" / "pet_seen").exists()
    lite.write_bytes(original)
    metadata = json.loads((shared / "metadata.json").read_text())
    metadata["manifests"]["pet_seen.jsonl"]["sha256"] = "0" * 64
    (shared / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(FinebenchError, match="pet_seen: not prepared from the pinned manifest"):
        sharing.SharedData(str(shared))
    result = lite_eval_refused(tmp_path, shared)
    assert "not a complete copy of the benchmark" in result.stderr and not (tmp_path / "run").exists()


def lite_eval_refused(tmp_path, shared):
    result = subprocess.run([BIN / "finebench", "eval", "--no-journal", "--model", "ground_truth", "--tasks", TASK,
                             "--output_path", str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
                            env={**os.environ, "FINEBENCH_HOME": str(tmp_path / "empty"),
                                 "FINEBENCH_DATA": str(shared), "FINEBENCH_ENCODER": "minilm"})
    assert result.returncode == 2
    return result


def test_nothing_to_push_and_bad_locations_are_told(tmp_path, monkeypatch):
    monkeypatch.setenv("FINEBENCH_HOME", str(tmp_path / "empty"))
    with pytest.raises(FinebenchError, match="nothing to push"):
        sharing.push(str(tmp_path / "dest"))
    with pytest.raises(FinebenchError, match="only dataset repositories"):
        sharing.parse_location("hf://models/org/name")
    with pytest.raises(FinebenchError, match="has no readable metadata.json"):
        sharing.SharedData(str(tmp_path))


@pytest.fixture
def hub(monkeypatch, tmp_path):
    with HubServer() as server:
        as_the_hub(server, monkeypatch, tmp_path / "hf-home")
        yield server


@pytest.mark.slow(seconds=25)
def test_push_to_the_hub_then_pull_at_a_pinned_commit_and_read_in_place(from_pet_home, hub, tmp_path):
    where = sharing.push("hf://datasets/lab/finebench-data")
    assert hub.created == {"lab/finebench-data": "private"}  # private unless --public
    commit = where.rsplit("@", 1)[1]
    assert where == f"hf://datasets/lab/finebench-data@{commit}" and hub.head("lab/finebench-data") == commit
    assert "metadata.json" in hub.files("lab/finebench-data")
    node = tmp_path / "node"
    described, installed = sharing.pull(where, home=node)
    assert installed == ["pet_seen", "pet_unseen"] and commit[:12] in described
    assert rows(node) == rows(from_pet_home)
    scores = lite_eval(tmp_path, FINEBENCH_HOME=str(tmp_path / "empty-home"), FINEBENCH_DATA=where,
                       HF_ENDPOINT=hub.url, HF_TOKEN="hf_test")
    assert scores["finebench_accuracy,none"] == 100
