"""The queue and the published entries on a Hugging Face dataset repository, through the real
huggingface_hub client, against a local stand-in of the Hub (tests/hubserver.py) that refuses a
commit whose parent is not the head, as the Hub does."""

import os
import random
import subprocess
import sys
from dataclasses import replace

import pytest
from hubserver import HubServer, as_the_hub
from test_queue import race

from finebench.errors import FinebenchError
from finebench.leaderboard.app import Leaderboard
from finebench.leaderboard.benchmark import synthetic_entry
from finebench.leaderboard.queue import Queue
from finebench.leaderboard.settings import Settings
from finebench.leaderboard.storage import AlreadyExists, HubStorage, open_storage
from finebench.leaderboard.worker import publish

QUEUE, RESULTS = "hf://datasets/org/queue", "hf://datasets/org/results"


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """The stand-in, serving org/queue and org/results, as the Hub of this process and of its children."""
    with HubServer(["org/queue", "org/results"]) as server:
        as_the_hub(server, monkeypatch, tmp_path / "hf-home")
        yield server


def board_settings(tmp_path, results=(RESULTS,)) -> Settings:
    return Settings(results=results, queue=QUEUE, runs_dir=tmp_path / "runs")


def named_entry(name: str, index: int = 0) -> dict:
    entry = synthetic_entry(index, random.Random(index))
    entry["model"]["name"] = name
    return entry


def closed_models(board: Leaderboard) -> set[str]:
    return set(board.view("Closed-world accuracy", "", [], [], [], [], [], None)["model"])


def test_hub_storage_creates_once_lists_folders_and_reads_what_was_written(hub):
    storage = open_storage(QUEUE)
    assert isinstance(storage, HubStorage)
    storage.create("requests/a.json", b"{}")
    with pytest.raises(AlreadyExists):
        storage.create("requests/a.json", b"{}")
    storage.write("requests/b.json", b"1")
    storage.write("requests/b.json", b"2")
    storage.write("top.json", b"{}")
    assert storage.list("requests") == ["a.json", "b.json"] and storage.list("") == ["top.json"]
    assert storage.read("requests/b.json") == b"2"  # the current version, not a cached one
    assert storage.describe("requests/a.json").endswith("datasets/org/queue/blob/main/requests/a.json")


def test_a_create_whose_parent_moved_is_refused_then_retried(hub):
    """The race, made to happen: a worker reads the head, another commits, the first commits on the head it read.
    The Hub refuses that commit (412); create looks again and succeeds, and never overwrites what came first."""
    storage, other = open_storage(QUEUE), open_storage(QUEUE)
    seen = storage.api.dataset_info("org/queue").sha
    other.create("leases/taken-by-the-other.json", b"{}")
    real = storage.api.dataset_info
    stale = iter([type("Info", (), {"sha": seen})()])  # the head this worker read, before the other's commit
    storage.api.dataset_info = lambda *args, **kwargs: next(stale, None) or real(*args, **kwargs)
    storage.create("leases/mine.json", b"{}")
    assert hub.refused == 1 and {"taken-by-the-other.json", "mine.json"} <= set(storage.list("leases"))
    with pytest.raises(AlreadyExists):
        storage.create("leases/taken-by-the-other.json", b"{}")


def test_worker_processes_racing_on_a_hub_queue_claim_each_request_once(hub, tmp_path):
    """Four processes on one Hub queue: none lost, none twice. Whether their commits happen to collide depends on
    the machine's timing; the refusal and retry themselves are made to happen in the test above."""
    environment = {**os.environ, "HF_HOME": str(tmp_path / "hf-home")}
    race(Queue(open_storage(QUEUE)), QUEUE, 8, environment)


def test_published_entries_on_the_hub_are_what_the_app_shows_and_reloads(hub, tmp_path):
    results = open_storage(RESULTS)
    publish(named_entry("published-first"), results)
    board = Leaderboard(board_settings(tmp_path))
    assert "published-first" in closed_models(board) and board.problems == []

    publish(named_entry("published-later", 1), results)
    results.write("broken.json", b"{not json")
    board.reload()
    assert {"published-first", "published-later"} <= closed_models(board)
    assert len(board.problems) == 1 and board.problems[0].startswith("broken.json: ")

    hub.__exit__(None, None, None)  # the Hub goes away while the app runs (the client retries for 23 s) ...
    board.reload()
    assert {"published-first", "published-later"} <= closed_models(board)  # ... and the last view stays, with why
    assert any("datasets/org/results" in problem and "ConnectError" in problem and "read from it before" in problem
               for problem in board.problems)


def test_a_results_repository_that_does_not_exist_stops_the_app_and_the_worker(hub, tmp_path):
    missing = "hf://datasets/org/no-such-results"
    with pytest.raises(FinebenchError, match="org/no-such-results cannot be reached: RepositoryNotFound"):
        Leaderboard(board_settings(tmp_path, results=(missing,)))
    environment = {**os.environ, "FINEBENCH_HOME": str(tmp_path / "home"), "FINEBENCH_QUEUE": QUEUE,
                   "FINEBENCH_LEADERBOARD_RESULTS": missing, "HF_HOME": str(tmp_path / "hf-home")}
    worker = subprocess.run([sys.executable, "-m", "finebench", "worker", "--once"], capture_output=True, text=True,
                            env=environment, cwd=tmp_path, timeout=120)
    assert worker.returncode == 2 and "org/no-such-results cannot be reached" in worker.stderr
    assert "nothing is read from or written to a folder instead" in worker.stderr
    assert not list(tmp_path.rglob("hf:*"))  # no folder named "hf:" in its place, in the working folder or below


def test_a_reload_downloads_only_the_entries_that_changed(hub, tmp_path):
    """The Hub results reader compares each file's blob id at the head commit with what it read before: a reload
    with nothing new downloads nothing, one after a publication downloads that entry alone."""
    results = open_storage(RESULTS)
    for index in range(3):
        publish(named_entry(f"published-{index}", index), results)
    board = Leaderboard(board_settings(tmp_path))
    first = [name for name in hub.downloads if name.endswith(".json")]
    assert len(first) == 3 and {"published-0", "published-1", "published-2"} <= closed_models(board)
    board.reload()
    assert [name for name in hub.downloads if name.endswith(".json")] == first  # nothing changed, nothing read
    publish(named_entry("published-later", 9), results)
    changed = named_entry("published-1", 1)
    changed["model"]["parameters"] = 99  # the same file, new bytes
    publish(changed, results)
    board.reload()
    fetched = [name for name in hub.downloads if name.endswith(".json")][len(first):]
    assert len(fetched) == 2 and any(name.startswith("published-later") for name in fetched)
    assert any(name.startswith("published-1") for name in fetched) and "published-later" in closed_models(board)
    updated = next(entry for key, entry in board.by_key.items() if key.startswith("published-1 "))
    assert updated["model"]["parameters"] == 99


def test_a_restart_with_the_cache_reads_only_what_changed_meanwhile(hub, tmp_path):
    """What a reader read is kept between starts: a restart over the same Hub results fetches no entry, one after a
    publication fetches that entry alone, and a cache cut short is read as none (everything fetched again)."""
    results = open_storage(RESULTS)
    for index in range(3):
        publish(named_entry(f"kept-{index}", index), results)
    settings = replace(board_settings(tmp_path), cache=tmp_path / "cache")
    fetched = lambda board: board.readers[0].fetched
    assert fetched(Leaderboard(settings)) == 3
    assert fetched(Leaderboard(settings)) == 0  # a restart
    publish(named_entry("kept-later", 7), results)
    board = Leaderboard(settings)
    assert fetched(board) == 1 and "kept-later" in closed_models(board)
    [cache] = (tmp_path / "cache").iterdir()
    cache.write_bytes(cache.read_bytes()[:100])  # cut short
    board = Leaderboard(settings)
    assert fetched(board) == 4 and {"kept-0", "kept-later"} <= closed_models(board) and board.problems == []
