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
    assert any("broken.json: " in problem for problem in listing.problems)
    assert queue.claim_oldest(600).model == "org/model"


def test_no_malformed_request_stops_the_queue(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    good = queue.submit(request())
    record = json.loads((tmp_path / good.path).read_text())
    broken = {"null": None, "text": "a string", "number-date": {**record, "submitted_at": 5},
              "string-heartbeat": {**record, "heartbeat": "soon"}, "true-heartbeat": {**record, "heartbeat": True},
              "misnamed": {**record, "revision": "other"}}
    for name, content in broken.items():
        (tmp_path / "requests" / f"{name}.json").write_text(json.dumps(content))
    listing = queue.listing()
    assert [r.id for r in listing.requests] == [good.id] and len(listing.problems) == len(broken)
    assert any("misnamed.json: its model, revision and protocol make the id" in p for p in listing.problems)
    assert queue.claim_oldest(600).id == good.id and queue.claim_oldest(600) is None  # claimed once, no loop


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


RACER = """
import json, sys, time
from finebench.leaderboard.queue import Queue
from finebench.leaderboard.storage import LocalStorage
queue, name, claims = Queue(LocalStorage(sys.argv[1])), sys.argv[2], []
time.sleep(max(0.0, float(sys.argv[3]) - time.time()))  # all start together
while (request := queue.claim_oldest(600, name)) is not None:
    claims.append(request.id)
    queue.finish(request, [])
print(json.dumps(claims))
"""


def test_racing_worker_processes_claim_each_request_exactly_once(tmp_path):
    import subprocess
    import sys

    queue = Queue(LocalStorage(tmp_path))
    submitted = {queue.submit(request(f"org/model-{number}")).id for number in range(24)}
    start = time.time() + 2
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), f"w{number}", str(start)],
                               stdout=subprocess.PIPE, text=True) for number in range(4)]
    claims = [json.loads(racer.communicate(timeout=120)[0]) for racer in racers]
    everything = [claim for worker_claims in claims for claim in worker_claims]
    assert sorted(everything) == sorted(submitted)  # none lost, none twice
    assert all(queue.get(identifier).status == FINISHED for identifier in submitted)  # none stuck


def test_racing_workers_on_the_hub_queue_claim_each_request_once():
    from finebench.leaderboard.storage import HubStorage

    hub = FakeHub()
    storage = HubStorage("org/queue", api=hub)
    storage.read = lambda path: hub.files[path]
    queue = Queue(storage)
    submitted = {queue.submit(request(f"org/model-{number}")).id for number in range(12)}
    claims, barrier = [], threading.Barrier(4)

    def worker(name):
        barrier.wait()
        while (claimed := queue.claim_oldest(600, name)) is not None:
            claims.append(claimed.id)
            queue.finish(claimed, [])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(worker, [f"w{number}" for number in range(4)]))
    assert sorted(claims) == sorted(submitted)


def test_a_superseded_claim_writes_nothing(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    queue.submit(request())
    slow = queue.claim_oldest(600, "slow")
    again = queue.claim_oldest(0, "fresh")  # slow's heartbeat counts as stale: claimed again
    assert again.attempt == 2 and again.worker == "fresh" and "requeued" in again.reason
    assert not queue.beat(slow)  # the first worker learns it lost the claim
    from finebench.leaderboard.queue import LostClaim

    with pytest.raises(LostClaim):
        queue.finish(slow, ["stale.json"])
    queue.finish(again, ["fresh.json"])
    assert queue.get(again.id).entries == ["fresh.json"]


def test_a_worker_says_why_a_running_request_is_not_claimed(tmp_path):
    queue = Queue(LocalStorage(tmp_path))
    queue.submit(request())
    queue.claim_oldest(600, "host:1")
    assert queue.claim_oldest(600, "host:2") is None
    [note] = queue.waiting(600)
    assert "host:1" in note and "FINEBENCH_STALE_SECONDS" in note


def test_results_on_the_hub_are_refused_not_written_to_a_folder_named_hf(monkeypatch, tmp_path):
    from finebench.errors import FinebenchError
    from finebench.leaderboard.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINEBENCH_LEADERBOARD_RESULTS", "hf://datasets/org/results")
    with pytest.raises(FinebenchError, match="local folders only"):
        load_settings()
    assert not (tmp_path / "hf:").exists()
