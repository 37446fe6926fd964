"""Submission to publication on CPU: the queue, the worker, lmms-eval and the leaderboard's table."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from finebench.errors import FinebenchError
from finebench.leaderboard import data, detail, health
from finebench.leaderboard.app import Leaderboard
from finebench.leaderboard.queue import FAILED, FINISHED, PENDING, RUNNING
from finebench.leaderboard.settings import Settings
from finebench.leaderboard.storage import LocalStorage
from finebench.leaderboard.submission import validate_submission
from finebench.leaderboard.worker import Evaluation, publish, run_worker
from finebench.results import entries


def responder_request(name, settings, protocol="finebench"):
    return validate_submission(name, "main", "bfloat16", "reference responder", "responder", "ci@example.org",
                               protocol, settings)


RACE = (("first_option", "official"), ("ground_truth", "finebench"), ("random_option", "finebench"))
STALE_SECONDS = 8  # the heartbeat follows: every 2 s


def start_workers(count: int) -> list[subprocess.Popen]:
    """`finebench worker --drain` processes, each in a session of its own (killed whole by killpg)."""
    previous_umask = os.umask(0o027)  # the queue, the runs and the entries must honour it (a team's shared host)
    try:
        return [subprocess.Popen([sys.executable, "-m", "finebench", "worker", "--drain", "--lite"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
                for _ in range(count)]
    finally:
        os.umask(previous_umask)


def kill_a_worker_mid_evaluation(queue, workers) -> tuple[str, int]:
    """SIGKILL the worker (and its lmms-eval child) of the first request seen evaluating; its request and pid."""
    deadline = time.time() + 480  # evaluations starting together on two cores
    while time.time() < deadline:
        for request in queue.listing().requests:
            if request.status == RUNNING and request.log and Path(request.log).is_file() \
                    and "Building contexts" in Path(request.log).read_text(errors="replace"):
                pid = int(request.worker.rsplit(":", 1)[1])
                assert pid in {worker.pid for worker in workers}
                os.killpg(pid, signal.SIGKILL)  # the worker and its evaluation die without a word
                return request.id, pid
        if all(worker.poll() is not None for worker in workers):
            break
        time.sleep(0.2)
    raise AssertionError("no request was seen evaluating: " + " | ".join(
        worker.communicate(timeout=60)[0][-2000:] for worker in workers if worker.poll() is not None))


@pytest.mark.slow(seconds=60)
def test_racing_worker_processes_evaluate_each_request_once_and_a_killed_ones_request_finishes(
        deployment, monkeypatch, tmp_path):
    settings, queue, results = deployment
    monkeypatch.setenv("FINEBENCH_STALE_SECONDS", str(STALE_SECONDS))
    settings = replace(settings, stale_after_seconds=STALE_SECONDS)
    submitted = {queue.submit(responder_request(name, settings, protocol)).id: name for name, protocol in RACE}
    workers = start_workers(4)
    victim, killed = kill_a_worker_mid_evaluation(queue, workers)
    outputs = {worker.pid: worker.communicate(timeout=600)[0] for worker in workers}
    if queue.get(victim).status != FINISHED:  # the others stopped before its heartbeat went stale
        time.sleep(STALE_SECONDS + 1)
        assert run_worker(queue, results, settings, Evaluation(lite=True), once=True) == 1

    done = {identifier: queue.get(identifier) for identifier in submitted}
    assert {request.status for request in done.values()} == {FINISHED}, [r.reason for r in done.values()]
    leases = sorted(path.name for path in (Path(settings.queue) / "leases").iterdir())
    assert leases == sorted([f"{identifier}-1.json" for identifier in submitted] + [f"{victim}-2.json"])
    assert done[victim].attempt == 2 and all(r.attempt == 1 for i, r in done.items() if i != victim)
    published = sorted(Path(settings.results[0]).glob("*.json"))
    assert sorted(p for request in done.values() for p in map(Path, request.entries)) == published  # one each
    by_model = {entry["model"]["name"]: entry for entry in map(entries.read, published)}
    for request in done.values():
        entry = by_model[request.model]
        assert entry["source"] == "submitted" and entry["subset"] == "lite" and not entry.get("partial")
        assert entry["provenance"]["request"] == request.id and entry["protocol"] == request.protocol
        assert f"attempt-{request.attempt}" in entry["provenance"]["run"]  # the attempt that held the claim
        closed = entry["scores"]["closed_accuracy"]
        assert sum(cell["n"] for dataset, cells in closed.items() if dataset != "average"
                   for cell in cells.values()) == 600  # no line counted twice
    for name in ("first_option", "ground_truth"):  # first_option is official: the answer always comes first
        assert by_model[name]["scores"]["closed_accuracy"]["average"]["mean"]["value"] == 100.0
    assert all(output.count("evaluating") == output.count(f"-> {FINISHED}") for pid, output in outputs.items()
               if pid != killed)

    written = [*(Path(settings.queue) / "requests").iterdir(), *published, *(Path(settings.queue) / "leases").iterdir(),
               *(settings.runs_dir / victim / "attempt-2").rglob("*.json*")]
    assert {oct(path.stat().st_mode & 0o777) for path in written} == {oct(0o640)}
    board = Leaderboard(settings)
    frame = board.view("Closed-world accuracy", "", [], [], [], ["submitted"], [], None, "lite")
    assert sorted(frame["model"]) == sorted(submitted.values())
    assert not set(submitted.values()) & set(board.view("Closed-world accuracy", "", [], [], [], [], [], None)["model"])
    assert set(board.queue_frame()["status"]) == {FINISHED}
    details_and_comparisons_from_a_copy(settings, by_model, tmp_path / "elsewhere")


def details_and_comparisons_from_a_copy(settings, by_model, elsewhere: Path) -> None:
    """The published folder copied to another place, the runs gone: Details and compare read the entries'
    per-line sidecars, which travelled with them."""
    shutil.copytree(settings.results[0], elsewhere)
    shutil.rmtree(settings.runs_dir)
    board = Leaderboard(replace(settings, results=(str(elsewhere),)))
    entry = by_model["random_option"]
    markdown, per_class, confused = board.details(data.entry_key(entry))
    assert board.columns(data.entry_key(entry)) is board.columns(data.entry_key(entry))  # read once, then kept
    assert per_class["lines"].sum() == 600 and len(per_class) > 100
    assert set(per_class["dataset"]) == {"aircraft", "bird", "car", "dog", "flower", "pet"}
    assert len(confused) == 15 and (confused["true class"] != confused["answered"]).all()
    assert "random\\_option" in markdown and "no per-line scores" not in markdown
    reported = next(key for key, shown in board.by_key.items() if shown["source"] == "reported")
    assert detail.NO_LINES in board.details(reported)[0]

    files = {entries.read(path)["model"]["name"]: path for path in elsewhere.glob("*.json")}
    compared = subprocess.run([sys.executable, "-m", "finebench", "compare", str(files["ground_truth"]),
                               str(files["random_option"]), "--disagreements", "2"], capture_output=True, text=True,
                              timeout=120)
    assert compared.returncode == 0, compared.stderr
    overall = next(line for line in compared.stdout.splitlines() if line.startswith("| closed_accuracy | all | all"))
    cells = [cell.strip() for cell in overall.strip("|").split("|")]
    assert cells[3:5] == ["600", "100.00"] and float(cells[5]) < 50 and cells[-1].endswith("*")  # a clear lead
    assert compared.stdout.count("A (right)") == 2 and compared.stdout.count("B (wrong)") == 2

    keys = {board.by_key[key]["model"]["name"]: key for key in board.with_lines()}  # the Compare tab
    assert set(keys) == {"ground_truth", "random_option", "first_option"}
    note, cells, differing, images = board.compare(keys["ground_truth"], keys["random_option"])
    overall = cells[(cells["metric"] == "closed_accuracy") & (cells["dataset"] == "all")].iloc[0]
    assert overall["lines"] == 600 and overall["A"] == 100.0 and overall["different"] == "yes"
    assert len(differing) == int(overall["only A right"]) and f"{len(differing)} closed-world lines" in note
    assert len(images) == 12 and all(caption.split(" | ")[0] in set(differing["ground_truth"])
                                     for _, caption in images)  # the lines' images, from the prepared data
    itself = board.compare(keys["random_option"], keys["random_option"])[1]
    assert (itself["A - B"] == 0).all() and set(itself["different"]) <= {"no", ""}

    profiles = dict(board.position_profiles())  # the finebench-protocol entries' bars, from the same sidecars
    assert set(profiles) == {"ground_truth (finebench, lite)", "random_option (finebench, lite)"}
    assert profiles["ground_truth (finebench, lite)"] == [100.0] * 4
    assert all(0 <= bar <= 60 for bar in profiles["random_option (finebench, lite)"])  # about 25 at every position
    plotted = subprocess.run([sys.executable, "-m", "finebench", "tables", "--entries", str(elsewhere), "--protocol",
                              "finebench", "--plot", str(elsewhere.parent / "positions.png")],
                             capture_output=True, text=True, timeout=120)
    assert plotted.returncode == 0 and "position profiles of 2 entries" in plotted.stdout, plotted.stderr
    assert (elsewhere.parent / "positions.png").read_bytes()[:4] == b"\x89PNG"


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


@pytest.mark.slow(seconds=12)
def test_a_machine_that_cannot_evaluate_leaves_the_request_pending(deployment, tmp_path, monkeypatch):
    settings, queue, results = deployment
    request = queue.submit(responder_request("ground_truth", settings))
    monkeypatch.setenv("FINEBENCH_HOME", str(tmp_path / "nothing-prepared"))
    with pytest.raises(FinebenchError, match="before any generation") as caught:
        run_worker(queue, results, settings, Evaluation(lite=True), once=True)
    assert "finebench prepare" in caught.value.fix
    pending = queue.get(request.id)
    assert pending.status == PENDING and pending.reason is None  # not the submitter's fault
    assert not (settings.runs_dir / request.id).exists()


@pytest.mark.slow(seconds=12)
def test_a_failing_evaluation_is_marked_failed_with_its_reason(deployment, tmp_path):
    settings, queue, results = deployment
    model = tmp_path / "models" / "broken"
    model.mkdir(parents=True)
    (model / "model.safetensors").write_bytes(b"not really")
    (model / "config.json").write_text("{}")
    settings = Settings(**{**settings.__dict__, "local_model_roots": (tmp_path / "models",)})
    request = queue.submit(validate_submission(str(model), "main", "bfloat16", "general MLLM", "hf", "ci@x.org",
                                               "finebench", settings))
    run_worker(queue, results, settings, Evaluation(lite=True), once=True)
    failed = queue.get(request.id)
    assert failed.status == FAILED and "evaluation exited with code" in failed.reason


def wait_until_evaluating(queue, identifier: str, worker: subprocess.Popen) -> None:
    deadline = time.time() + 300
    while time.time() < deadline and worker.poll() is None:
        request = queue.get(identifier)
        if request.status == RUNNING and request.log and Path(request.log).is_file() \
                and "Building contexts" in Path(request.log).read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"never seen evaluating: {worker.communicate(timeout=60)[0][-3000:]}")


@pytest.mark.slow(seconds=35)
def test_sigterm_mid_evaluation_gives_the_request_back_and_it_later_finishes_once(deployment):
    """What systemd's stop, Slurm's end of job or `docker stop` does to a worker: SIGTERM to the worker alone.
    Its evaluation's tree stops, the request is PENDING again, nothing is published, the worker reports itself
    stopped and exits 0; the next claim evaluates the request and publishes its entry once."""
    settings, queue, results = deployment
    identifier = queue.submit(responder_request("random_option", settings)).id
    worker = subprocess.Popen([sys.executable, "-m", "finebench", "worker", "--lite"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        wait_until_evaluating(queue, identifier, worker)
        evaluation = guard_descendants(worker.pid)
        assert evaluation  # the guard, finebench eval, lmms-eval
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=120)[0]
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
    assert worker.returncode == 0, output[-3000:]
    assert f"stopped by SIGTERM: request {identifier} is PENDING again" in output
    assert not [pid for pid in evaluation if Path(f"/proc/{pid}").exists()]  # no orphan kept evaluating
    given_back = queue.get(identifier)
    assert given_back.status == PENDING and given_back.attempt == 1 and "SIGTERM" in given_back.reason
    assert not list(Path(settings.results[0]).glob("*.json"))
    reports, problems = health.read_reports(queue.storage)
    assert not problems and [(r.state, r.processed) for r in reports] == [(health.STOPPED, 0)]

    assert run_worker(queue, results, settings, Evaluation(lite=True), once=True) == 1
    finished = queue.get(identifier)
    assert finished.status == FINISHED and finished.attempt == 2 and finished.reason is None
    published = sorted(Path(settings.results[0]).glob("*.json"))
    assert [Path(path) for path in finished.entries] == published and len(published) == 1  # exactly once
    assert "attempt-2" in entries.read(published[0])["provenance"]["run"]
    summary, workers = Leaderboard(settings).status_view()[2:]
    assert "1 FINISHED" in summary and "0 PENDING" in summary and "2 stopped" in summary
    assert list(workers["state"]) == [health.STOPPED, health.STOPPED] and sorted(workers["processed"]) == [0, 1]


def guard_descendants(pid: int) -> list[int]:
    from finebench.harness.guard import descendants

    return descendants(pid)


def test_worker_health_tells_evaluating_idle_silent_and_stopped_apart(tmp_path):
    from finebench.leaderboard.queue import Queue

    queue, now = Queue(LocalStorage(tmp_path)), time.time()
    request = queue.submit(responder_request("ground_truth", Settings(results=(), queue=str(tmp_path),
                                                                      runs_dir=tmp_path)))
    claimed = queue.claim_oldest(600, "gpu-1:11")
    reports = [health.WorkerReport("gpu-1:11", health.EVALUATING, claimed.id, 3, now - 9000, now - 1000),
               health.WorkerReport("gpu-2:12", health.IDLE, None, 5, now - 9000, now - 30),
               health.WorkerReport("gpu-3:13", health.IDLE, None, 1, now - 9000, now - 5000),
               health.WorkerReport("gpu-4:14", health.STOPPED, None, 2, now - 9000, now - 7000)]
    frame = health.workers_frame(reports, queue.listing().requests, 600, now).set_index("worker")
    assert frame.loc["gpu-1:11", "state"] == health.EVALUATING  # its request's heartbeat is fresh
    assert frame.loc["gpu-1:11", "last sign of life (s ago)"] == round(now - claimed.heartbeat)
    assert frame.loc["gpu-2:12", "state"] == health.IDLE
    assert frame.loc["gpu-3:13", "state"] == "silent (was idle)" and frame.loc["gpu-4:14", "state"] == health.STOPPED
    line = health.summary(frame.reset_index(), queue.listing().requests)
    assert "1 evaluating, 1 idle, 1 silent, 1 stopped" in line and "1 RUNNING" in line and request.id

    written = health.Reporter(LocalStorage(tmp_path), "gpu-5:15", idle_every=3600)
    written(health.IDLE)
    first = (tmp_path / written.report.path).read_bytes()
    written(health.IDLE)  # unchanged and soon after: not written again (a Hub queue gets a commit per report)
    assert (tmp_path / written.report.path).read_bytes() == first
    written(health.EVALUATING, request.id)
    assert json.loads((tmp_path / written.report.path).read_text())["request"] == request.id
    (tmp_path / "workers" / "junk.json").write_text("{")
    assert len(health.read_reports(LocalStorage(tmp_path))[1]) == 1
