"""Evaluation that never loses GPU work. kill -9 in the middle of `finebench eval` (a responder that
sleeps per line and counts its calls): no process of the run survives, and the same command makes only
the missing calls and gives the entry of an uninterrupted run. The same through the worker. An encoder
that cannot load stops the run before any generation; a scoring failure keeps the run and says how
to finish it."""

import dataclasses
import os
import subprocess
import sys
import time

import pytest
from processes import new_mark, survivors, wait_for_lines

from finebench.harness.journal import CHUNK_VARIABLE, JOURNAL_VARIABLE, read_records
from finebench.harness.responders import DELAY_VARIABLE, LOG_VARIABLE
from finebench.harness.runs import read_run
from finebench.results.ingest import build_entries

TASKS = "finegrained-lite_pet_seen_*"  # 50 closed-world and 50 open-world lines
LINES = 100


def environment(home, **more):
    return {**os.environ, "FINEBENCH_HOME": str(home), "FINEBENCH_ENCODER": "minilm", CHUNK_VARIABLE: "5",
            **{key: str(value) for key, value in more.items()}}


def evaluation(output, *options):
    return [sys.executable, "-m", "finebench", "eval", *options, "--model", "random_option", "--tasks", TASKS,
            "--log_samples", "--output_path", str(output)]


def calls(path) -> int:
    return len(path.read_text().splitlines()) if path.is_file() else 0


def scores(run) -> list:
    return [entry["scores"] for entry in build_entries(read_run(run), name="m")]


def run_uninterrupted(home, folder):
    """The run of TASKS by one process, with no journal, in folder/run: what every resumed run must equal."""
    result = subprocess.run(evaluation(folder / "run", "--no-journal"), env=environment(home),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "run"


@pytest.fixture(scope="module")
def uninterrupted(prepared_home, tmp_path_factory):
    return run_uninterrupted(prepared_home, tmp_path_factory.mktemp("uninterrupted"))


@pytest.mark.slow(seconds=55)  # with its module's uninterrupted run
def test_kill_9_mid_run_then_the_same_command_makes_only_the_missing_calls(prepared_home, uninterrupted, tmp_path):
    journal, mark = tmp_path / "journal", new_mark()
    command = evaluation(tmp_path / "run", "--journal", str(journal))
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env=environment(prepared_home, **mark, **{DELAY_VARIABLE: 0.05,
                                                                        LOG_VARIABLE: tmp_path / "calls-1"}))
    wait_for_lines(tmp_path / "calls-1", 30, first)
    first.kill()
    first.wait()
    assert survivors(mark) == []  # lmms-eval went with it: nothing writes into the run folder any more
    [model_journal] = [path for path in journal.iterdir() if path.is_dir()]
    journaled = len(read_records(model_journal)[0])
    assert 25 <= journaled <= calls(tmp_path / "calls-1") < LINES  # whole chunks of 5, each on disk once answered

    second = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            env=environment(prepared_home, **{LOG_VARIABLE: tmp_path / "calls-2"}))
    assert second.returncode == 0, second.stderr[-2000:]
    assert calls(tmp_path / "calls-2") == LINES - journaled
    assert f"{journaled} of {LINES} answers read" in second.stderr
    assert scores(tmp_path / "run") == scores(uninterrupted)


@pytest.mark.slow(seconds=30)
def test_a_killed_worker_leaves_nothing_running_and_its_requeued_request_resumes(deployment, tmp_path, monkeypatch):
    from test_worker import responder_request

    from finebench.leaderboard.queue import FINISHED, RUNNING
    from finebench.leaderboard.worker import Evaluation, run_worker
    from finebench.results import entries

    settings, queue, results = deployment
    request = queue.submit(responder_request("ground_truth", settings))
    monkeypatch.setenv(JOURNAL_VARIABLE, str(tmp_path / "journal"))
    monkeypatch.setenv(CHUNK_VARIABLE, "10")
    mark = new_mark()
    worker = subprocess.Popen([sys.executable, "-m", "finebench", "worker", "--once", "--lite"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, **mark, DELAY_VARIABLE: "0.02", LOG_VARIABLE: str(tmp_path / "c1")})
    wait_for_lines(tmp_path / "c1", 60, worker)
    worker.kill()
    worker.wait()
    assert survivors(mark) == []  # its finebench eval, the guard and lmms-eval all went with it
    assert queue.get(request.id).status == RUNNING  # what a crashed worker leaves; the next claim recovers it
    journaled = sum(len(read_records(folder)[0]) for folder in (tmp_path / "journal").iterdir())
    assert journaled >= 50

    monkeypatch.setenv(LOG_VARIABLE, str(tmp_path / "c2"))
    assert run_worker(queue, results, dataclasses.replace(settings, stale_after_seconds=0),
                      Evaluation(lite=True), once=True) == 1
    done = queue.get(request.id)
    assert done.status == FINISHED, done.reason
    assert calls(tmp_path / "c2") == 1200 - journaled  # 24 tasks x 50 lines, minus what the first attempt made
    [entry] = [entries.read(path) for path in done.entries]
    cells = [cell for metric in entry["scores"].values() for dataset, splits in metric.items() if dataset != "average"
             for cell in splits.values()]
    assert len(cells) == 36 and {(cell["value"], cell["n"]) for cell in cells} == {(100.0, 50)}  # 3 metrics x 12 units


def test_an_encoder_that_cannot_load_stops_the_run_before_any_generation(prepared_home, tmp_path):
    started = time.monotonic()
    result = subprocess.run(evaluation(tmp_path / "run", "--encoder", str(tmp_path / "no-such-encoder")),
                            capture_output=True, text=True, timeout=300,
                            env=environment(prepared_home, HF_HUB_OFFLINE=1, **{LOG_VARIABLE: tmp_path / "calls"}))
    assert result.returncode == 2 and time.monotonic() - started < 60
    assert "text encoder" in result.stderr and result.stderr.strip().splitlines()[-1].startswith("  fix:")
    assert "--encoder minilm" in result.stderr.strip().splitlines()[-1]
    assert calls(tmp_path / "calls") == 0


@pytest.mark.slow(seconds=25)
def test_a_scoring_failure_keeps_every_generation_and_says_how_to_finish(prepared_home, uninterrupted, tmp_path):
    result = subprocess.run(evaluation(tmp_path / "run", "--no-preflight", "--no-journal", "--encoder",
                                       str(tmp_path / "no-such-encoder")),
                            capture_output=True, text=True, timeout=600,
                            env=environment(prepared_home, HF_HUB_OFFLINE=1))
    assert result.returncode == 1
    assert f"finebench rescore {tmp_path / 'run'} --output" in result.stderr
    run = read_run(tmp_path / "run")
    assert sum(len(samples) for samples in run.samples.values()) == LINES  # every generation is on disk
    with pytest.raises(Exception, match="scoring failed on 50 of 50 lines"):
        build_entries(run)
    rescored = subprocess.run([sys.executable, "-m", "finebench", "rescore", str(tmp_path / "run"), "--output",
                               str(tmp_path / "rescored"), "--encoder", "minilm"], capture_output=True, text=True,
                              timeout=600, env=environment(prepared_home))
    assert rescored.returncode == 0, rescored.stderr[-2000:]
    assert scores(tmp_path / "rescored") == scores(uninterrupted)  # finished without generating again
