"""The submission queue: concurrency, status changes, stale recovery, malformed files, both storages."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from finebench.leaderboard.queue import FAILED, FINISHED, PENDING, RUNNING, DuplicateRequest, Queue, Request
from finebench.leaderboard.storage import AlreadyExists, HubStorage, LocalStorage


def request(model="org/model", revision="main", protocol="finebench"):
    return Request(model=model, revision=revision, protocol=protocol, precision="bfloat16", family="general MLLM",
                   backend="hf", contact="me@example.org", lmms_eval_model="qwen2_5_vl")


def test_fifty_concurrent_submissions_lose_none_and_duplicate_none(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    # 25 distinct models, each submitted twice at the same moment
    submissions = [request(f"org/model-{i % 25}") for i in range(50)]
    barrier = threading.Barrier(50)

    def submit(item):
        barrier.wait()
        try:
            queue.submit(item)
            return "accepted"
        except DuplicateRequest:
            return "duplicate"

    with ThreadPoolExecutor(50) as pool:
        outcomes = list(pool.map(submit, submissions))
    assert outcomes.count("accepted") == 25 and outcomes.count("duplicate") == 25
    listing = queue.listing()
    assert sorted(r.model for r in listing.requests) == sorted(f"org/model-{i}" for i in range(25))
    assert not listing.problems and not list(tmp_path.rglob(".*.new"))


def test_duplicate_names_the_existing_request(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    first = queue.submit(request())
    with pytest.raises(DuplicateRequest) as caught:
        queue.submit(request())
    assert first.id in str(caught.value) and "PENDING" in str(caught.value) and str(tmp_path) in str(caught.value)
    queue.submit(request(revision="abc123"))  # another revision is another request
    queue.submit(request(protocol="official"))
    assert len(queue.listing().requests) == 3


def test_statuses_heartbeat_and_stale_recovery(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    older, newer = request("org/old"), request("org/new")
    queue.submit(older)
    time.sleep(0.01)
    queue.submit(newer)
    claimed = queue.claim_oldest(stale_after_seconds=600)
    assert claimed.model == "org/old" and queue.get(claimed.id).status == RUNNING
    assert queue.claim_oldest(600).model == "org/new"
    assert queue.claim_oldest(600) is None
    stale = queue.get(older.id)
    stale.heartbeat = time.time() - 3600  # its worker died an hour ago
    queue.save(stale)
    assert [r.model for r in queue.recover_stale(600)] == ["org/old"]
    assert queue.get(older.id).status == PENDING and "requeued" in queue.get(older.id).reason
    queue.finish(queue.claim_oldest(600), ["entry.json"])
    queue.fail(queue.get(newer.id), "out of memory")
    assert queue.get(older.id).status == FINISHED and queue.get(newer.id).status == FAILED
    assert queue.get(newer.id).reason == "out of memory"


def test_a_malformed_request_file_is_reported_not_fatal(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    queue.submit(request())
    (tmp_path / "requests" / "broken.json").write_text("{not json")
    (tmp_path / "requests" / "odd.json").write_text(json.dumps({"model": "x"}))
    listing = queue.listing()
    assert len(listing.requests) == 1 and len(listing.problems) == 2
    assert any(problem.startswith("broken.json") for problem in listing.problems)
    assert queue.claim_oldest(600).model == "org/model"


class FakeHub:
    """The few huggingface_hub.HfApi calls HubStorage makes, over a dict, with commit races."""

    def __init__(self):
        self.files, self.sha, self.lock = {}, 0, threading.Lock()

    def list_repo_files(self, repo_id, repo_type=None, revision=None):
        return list(self.files)

    def dataset_info(self, repo_id):
        return type("Info", (), {"sha": str(self.sha)})()

    def hf_hub_download(self, repo_id, path, repo_type=None, force_download=False):
        raise AssertionError("reads go through read() in this fake")

    def create_commit(self, repo_id, repo_type, parent_commit, operations, commit_message):
        with self.lock:
            if parent_commit is not None and parent_commit != str(self.sha):
                raise RuntimeError("412 Precondition Failed: the branch moved")
            for operation in operations:
                self.files[operation.path_in_repo] = operation.path_or_fileobj
            self.sha += 1


def test_hub_storage_refuses_what_exists_and_lists_folders():
    hub = FakeHub()
    storage = HubStorage("org/queue", api=hub)
    storage.create("requests/a.json", b"{}")
    with pytest.raises(AlreadyExists):
        storage.create("requests/a.json", b"{}")
    storage.write("requests/b.json", b"{}")
    storage.write("results/c.json", b"{}")
    assert storage.list("requests") == ["a.json", "b.json"]
    assert storage.describe("requests/a.json").endswith("datasets/org/queue/blob/main/requests/a.json")


def test_claiming_lists_the_queue_once(tmp_path):
    class CountingStorage(LocalStorage):
        lists = 0

        def list(self, folder):
            CountingStorage.lists += 1
            return super().list(folder)

    queue = Queue(CountingStorage(tmp_path))
    stale = queue.submit(request("org/stale"))
    stale.status, stale.heartbeat = RUNNING, time.time() - 3600
    queue.save(stale)
    CountingStorage.lists = 0
    assert queue.claim_oldest(600).model == "org/stale"  # recovered and claimed from the same listing
    assert CountingStorage.lists == 1


def test_malformed_request_files_are_shown_under_the_queue_table(tmp_path):
    from finebench.leaderboard.app import Leaderboard
    from finebench.leaderboard.settings import Settings

    settings = Settings(results_dirs=(tmp_path / "results",), queue=str(tmp_path / "queue"), runs_dir=tmp_path)
    board = Leaderboard(settings)
    board.queue.submit(request())
    (tmp_path / "queue" / "requests" / "broken.json").write_text("{not json")
    frame, note = board.queue_view()
    assert list(frame["model"]) == ["org/model"]
    assert "queue requests could not be read" in note and "broken.json" in note
    (tmp_path / "queue" / "requests" / "broken.json").unlink()
    assert board.queue_view()[1] == ""
