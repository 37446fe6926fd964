"""The submission queue: concurrency, status changes, stale recovery, malformed files, both storages."""

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from finebench.leaderboard.queue import FAILED, FINISHED, PENDING, RUNNING, DuplicateRequest, Queue, Request
from finebench.leaderboard.storage import LocalStorage


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

    settings = Settings(results=(str(tmp_path / "results"),), queue=str(tmp_path / "queue"), runs_dir=tmp_path)
    board = Leaderboard(settings)
    board.queue.submit(request())
    (tmp_path / "queue" / "requests" / "broken.json").write_text("{not json")
    frame, note = board.queue_view()
    assert list(frame["model"]) == ["org/model"]
    assert "Queue requests that could not be read (1)" in note and "broken\\.json" in note  # shown as text
    (tmp_path / "queue" / "requests" / "broken.json").unlink()
    assert board.queue_view()[1] == ""


RACER = """
import json, sys
from finebench.leaderboard.queue import Queue
from finebench.leaderboard.storage import open_storage
queue, name, claims = Queue(open_storage(sys.argv[1])), sys.argv[2], []
print("ready", flush=True)
sys.stdin.readline()  # all start together, when the test says go
while (request := queue.claim_oldest(600, name)) is not None:
    claims.append(request.id)
    queue.finish(request, [])
print(json.dumps(claims))
"""


def race(queue: Queue, location: str, requests: int, env: dict | None = None) -> None:
    """Four processes claim and finish every request of the queue at `location`: none lost, none twice, none
    stuck. They are let go together once all four have imported and opened the queue, so that even on a
    loaded machine their first claims overlap."""
    import subprocess
    import sys

    submitted = {queue.submit(request(f"org/model-{number}")).id for number in range(requests)}
    racers = [subprocess.Popen([sys.executable, "-c", RACER, location, f"w{number}"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True, env=env) for number in range(4)]
    try:
        assert all(racer.stdout.readline().strip() == "ready" for racer in racers)
        for racer in racers:
            racer.stdin.write("go\n")
            racer.stdin.flush()
        claims = [json.loads(racer.communicate(timeout=180)[0]) for racer in racers]
    finally:
        for racer in racers:
            racer.kill()
    everything = [claim for worker_claims in claims for claim in worker_claims]
    assert sorted(everything) == sorted(submitted)  # none lost, none twice
    assert all(queue.get(identifier).status == FINISHED for identifier in submitted)  # none stuck


def test_racing_worker_processes_claim_each_request_exactly_once(tmp_path):
    race(Queue(LocalStorage(tmp_path)), str(tmp_path), 24)


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


@pytest.mark.parametrize("location", ["s3://bucket/results", "hf://models/org/results", "hf://datasets/org",
                                      "hf://datasets/org/a/b", "hf://datasets/org/../x", "https://example.org/r"])
def test_a_location_neither_folder_nor_hub_dataset_is_refused_never_a_folder(monkeypatch, tmp_path, location):
    from finebench.errors import FinebenchError
    from finebench.leaderboard.settings import load_settings

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FINEBENCH_LEADERBOARD_RESULTS", location)
    with pytest.raises(FinebenchError, match="neither a folder nor hf://datasets/<owner>/<name>") as refused:
        load_settings()
    assert "FINEBENCH_LEADERBOARD_RESULTS" in str(refused.value)
    monkeypatch.setenv("FINEBENCH_LEADERBOARD_RESULTS", "hf://datasets/org/results")
    assert load_settings().results == ("hf://datasets/org/results",)
    assert list(tmp_path.iterdir()) == []  # nothing named "hf:" or "s3:" made here


DIES_WHILE_CLAIMING = """
import os, signal, sys
from finebench.leaderboard.queue import Queue
from finebench.leaderboard.storage import LocalStorage

class DiesAfterTheLease(LocalStorage):
    def create(self, path, data):
        super().create(path, data)
        if path.startswith("leases/"):
            os.kill(os.getpid(), signal.SIGKILL)  # between the lease and the request marked RUNNING

Queue(DiesAfterTheLease(sys.argv[1])).claim_oldest(600, "doomed")
"""


def test_a_worker_killed_while_claiming_leaves_no_request_stuck(tmp_path):
    import subprocess
    import sys

    queue = Queue(LocalStorage(tmp_path))
    submitted = queue.submit(request())
    died = subprocess.run([sys.executable, "-c", DIES_WHILE_CLAIMING, str(tmp_path)])
    assert died.returncode == -9 and (tmp_path / "leases" / f"{submitted.id}-1.json").is_file()
    assert queue.get(submitted.id).status == PENDING  # the claim was never recorded
    assert queue.claim_oldest(600, "w1") is None  # a young lease: its worker may only be slow
    [note] = queue.waiting(600)
    assert "stopped before recording it" in note and "FINEBENCH_STALE_SECONDS" in note
    time.sleep(1.2)
    claimed = queue.claim_oldest(1, "w2")  # the lease is now older than the limit: passed over
    assert claimed.id == submitted.id and claimed.attempt == 2 and claimed.worker == "w2"
    assert queue.claim_oldest(1, "w3") is None  # and claimed once
    queue.finish(claimed, [])
    assert queue.get(submitted.id).status == FINISHED
