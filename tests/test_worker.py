"""Submission to publication on CPU: the queue, the worker, lmms-eval and the leaderboard's table."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from finebench.errors import FinebenchError
from finebench.leaderboard import data, detail
from finebench.leaderboard.app import Leaderboard
from finebench.leaderboard.queue import FAILED, FINISHED, PENDING, RUNNING
from finebench.leaderboard.settings import Settings
from finebench.leaderboard.storage import LocalStorage
from finebench.leaderboard.submission import validate_submission
from finebench.leaderboard.worker import publish, run_worker
from finebench.results import entries


def responder_request(name, settings, protocol="finebench"):
    return validate_submission(name, "main", "bfloat16", "reference responder", "responder", "ci@example.org",
                               protocol, settings)


def test_round_trip_from_submission_to_published_row(deployment):
    settings, queue, results = deployment
    previous_umask = os.umask(0o027)  # the queue, the run and the entry must honour it (a team's shared host)
    try:
        request = queue.submit(responder_request("first_option", settings, protocol="official"))
        assert run_worker(queue, results, settings, once=True, lite=True) == 1
    finally:
        os.umask(previous_umask)
    attempt = settings.runs_dir / request.id / "attempt-1"  # each claim evaluates into a folder of its own
    written = [Path(settings.queue) / "requests" / f"{request.id}.json", *settings.results_dirs[0].glob("*.json"),
               *(Path(settings.queue) / "leases").glob("*.json"), *attempt.rglob("*.json*"), attempt / "log.txt"]
    assert len(written) > 4 and {oct(path.stat().st_mode & 0o777) for path in written} == {oct(0o640)}
    done = queue.get(request.id)
    assert done.status == FINISHED, done.reason
    assert (attempt / "log.txt").is_file() and done.log == str(attempt / "log.txt")
    [published] = done.entries
    entry = entries.read(published)
    assert entry["source"] == "submitted" and entry["subset"] == "lite" and entry["protocol"] == "official"
    assert entry["scores"]["closed_accuracy"]["average"]["mean"]["value"] == 100.0  # the answer is always first
    assert entry["provenance"]["request"] == request.id
    board = Leaderboard(settings)
    frame = board.view("Closed-world accuracy", "first_option", [], [], [], ["submitted"], [], None, "lite")
    assert "first_option" not in set(board.view("Closed-world accuracy", "", [], [], [], [], [], None)["model"])
    assert list(frame["model"]) == ["first_option"] and list(frame["mean"]) == [100.0]
    assert board.queue_frame().iloc[0]["status"] == FINISHED


def test_details_of_a_published_entry(deployment):
    settings, queue, results = deployment
    request = queue.submit(responder_request("random_option", settings))
    run_worker(queue, results, settings, once=True, lite=True)
    entry = entries.read(queue.get(request.id).entries[0])
    own_run = Path(entry["provenance"]["run"])
    # a later run in the same folder (without samples) must not stand in for the entry's own run
    own_run.with_name("99991231_235959_results.json").write_text(own_run.read_text())
    samples = detail.closed_samples(entry)
    assert detail.closed_samples(entry) is samples  # read once, then served from the cache
    per_class = detail.per_class_accuracy(samples)
    assert len(per_class) > 100 and set(per_class["dataset"]) == {"aircraft", "bird", "car", "dog", "flower", "pet"}
    assert per_class["lines"].sum() == 600
    confused = detail.confused_pairs(samples)
    assert len(confused) == 15 and (confused["true class"] != confused["answered"]).all()
    assert "random_option" in detail.provenance_markdown(entry) and request.id in detail.provenance_markdown(entry)
    markdown, per_class_shown, _ = Leaderboard(settings).details(data.entry_key(entry))
    assert "random_option" in markdown and per_class_shown["lines"].sum() == 600


def test_publish_validates_and_keeps_revisions_apart(tmp_path):
    results = LocalStorage(tmp_path)
    entry = {"schema_version": 1, "model": {"name": "org/model", "revision": "main"}, "protocol": "finebench",
             "subset": "lite", "source": "submitted", "scores": {}, "provenance": {}}
    main = publish(entry, results)
    second = publish({**entry, "model": {"name": "org/model", "revision": "abc123"}}, results)
    assert main != second and entries.read(main)["model"]["revision"] == "main"
    assert entries.read(second)["model"]["revision"] == "abc123"
    with pytest.raises(FinebenchError, match="not a valid result entry"):
        publish({**entry, "source": "rumour", "model": {"name": "other"}}, results)
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([Path(main).name, Path(second).name])


def test_a_machine_that_cannot_evaluate_leaves_the_request_pending(deployment, tmp_path, monkeypatch):
    settings, queue, results = deployment
    request = queue.submit(responder_request("ground_truth", settings))
    monkeypatch.setenv("FINEBENCH_HOME", str(tmp_path / "nothing-prepared"))
    with pytest.raises(FinebenchError, match="before any generation") as caught:
        run_worker(queue, results, settings, once=True, lite=True)
    assert "finebench prepare" in caught.value.fix
    pending = queue.get(request.id)
    assert pending.status == PENDING and pending.reason is None  # not the submitter's fault
    assert not (settings.runs_dir / request.id).exists()


def test_a_failing_evaluation_is_marked_failed_with_its_reason(deployment, tmp_path):
    settings, queue, results = deployment
    model = tmp_path / "models" / "broken"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"not really")
    (model / "config.json").write_text("{}")
    settings = Settings(**{**settings.__dict__, "local_model_roots": (tmp_path / "models",)})
    request = queue.submit(validate_submission(str(model), "main", "bfloat16", "general MLLM", "hf", "ci@x.org",
                                               "finebench", settings))
    run_worker(queue, results, settings, once=True, lite=True)
    failed = queue.get(request.id)
    assert failed.status == FAILED and "evaluation exited with code" in failed.reason


def test_a_worker_killed_mid_run_leaves_its_request_recoverable(deployment):
    settings, queue, results = deployment
    request = queue.submit(responder_request("all_options", settings))
    worker = subprocess.Popen([sys.executable, "-m", "finebench", "worker", "--once", "--lite"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 120
    while queue.get(request.id).status != RUNNING and time.time() < deadline:
        time.sleep(0.2)
    assert queue.get(request.id).status == RUNNING
    time.sleep(2)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its lmms-eval child die without a word
    worker.wait()
    assert queue.get(request.id).status == RUNNING  # nobody marked it: only the heartbeat can tell
    assert queue.recover_stale(stale_after_seconds=0)[0].id == request.id
    assert queue.get(request.id).status == PENDING
    run_worker(queue, results, settings, once=True, lite=True)
    assert queue.get(request.id).status == FINISHED
