"""The mission's own command: the real `lmms-eval` script, no --include_path, a suite's glob; each line
generated once (the responder counts its requests); two data-parallel processes give the same records
and entries as one; wrong names get help; the GPU check's CPU part."""

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from finebench.harness.responders import LOG_VARIABLE
from finebench.harness.runs import read_run
from finebench.results.ingest import build_entries

BIN = Path(sys.executable).parent
SUITE = "finegrained-lite"


def environment(home, **more):
    return {**os.environ, "FINEBENCH_HOME": str(home), "FINEBENCH_ENCODER": "minilm", **more}


def records(run: Path) -> dict:
    """(task, doc_id) -> its logged scores, from every samples file of a run."""
    found = {}
    for path in run.rglob("*_samples_*.jsonl"):
        task = path.name.split("_samples_", 1)[1].removesuffix(".jsonl")
        for line in path.read_text().splitlines():
            sample = json.loads(line)
            found[task, sample["doc_id"]] = {key: value for key, value in sample.items()
                                             if isinstance(value, dict) and "score" in value}
    return found


@pytest.fixture(scope="module")
def plain_run(prepared_home, tmp_path_factory):
    """`lmms-eval --model ground_truth --tasks 'finegrained-lite_*'`: the console script, no --include_path."""
    folder = tmp_path_factory.mktemp("plain-lmms-eval")
    calls = folder / "calls.jsonl"
    result = subprocess.run([BIN / "lmms-eval", "--model", "ground_truth", "--tasks", f"{SUITE}_*", "--log_samples",
                             "--output_path", str(folder / "run")], capture_output=True, text=True, timeout=600,
                            cwd=folder, env=environment(prepared_home, **{LOG_VARIABLE: str(calls)}))
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "run", [json.loads(line) for line in calls.read_text().splitlines()]


@pytest.mark.slow(seconds=20)  # its module's plain lmms-eval run
def test_a_suite_glob_through_plain_lmms_eval_generates_each_line_once(plain_run):
    run, calls = plain_run
    answered = Counter((call["task"], call["doc_id"]) for call in calls)
    assert len(calls) == 1200 and set(answered.values()) == {1}  # 24 tasks x 50 lines, once each
    results = json.loads(next(run.rglob("*_results.json")).read_text())
    tasks = [name for name in results["results"] if name.startswith(f"{SUITE}_")]
    assert len(tasks) == 24 and all(results["n-samples"][task]["effective"] == 50 for task in tasks)
    assert len(records(run)) == 1200


@pytest.mark.slow(seconds=10)
def test_the_shim_can_be_turned_off(prepared_home, tmp_path):
    result = subprocess.run([BIN / "lmms-eval", "--model", "ground_truth", "--tasks", f"{SUITE}_bird_seen_closed",
                             "--output_path", str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
                            env=environment(prepared_home, FINEBENCH_LMMS_EVAL_TASKS="0"))
    assert "Tasks not found" in result.stderr and not list(tmp_path.rglob("*_results.json"))


@pytest.mark.slow(seconds=20)
def test_two_processes_give_the_records_and_entries_of_one(plain_run, prepared_home, tmp_path):
    single, _ = plain_run
    calls = tmp_path / "calls.jsonl"
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--processes", "2", "--no-journal",
                             "--model", "ground_truth",
                             "--tasks", f"{SUITE}_*", "--log_samples", "--output_path", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600,
                            env=environment(prepared_home, **{LOG_VARIABLE: str(calls)}))
    assert result.returncode == 0, result.stderr[-2000:]
    ranks = Counter(json.loads(line)["rank"] for line in calls.read_text().splitlines())
    assert ranks == {0: 600, 1: 600}  # the lines were split between the two processes, none twice
    one, two = records(single), records(tmp_path / "run")
    assert one.keys() == two.keys()
    for key, metrics in one.items():
        for metric, record in metrics.items():
            other = two[key][metric]
            # a similarity may differ in its 7th decimal: the encoder's batches differ between the runs
            assert {**record, "score": 0} == {**other, "score": 0}, (key, metric)
            assert record["score"] == pytest.approx(other["score"], abs=1e-6), (key, metric)
    scores = [[entry["scores"] for entry in build_entries(read_run(run), name="m")]
              for run in (single, tmp_path / "run")]
    assert scores[0] == scores[1]


def test_a_misspelt_task_is_refused_at_once_with_the_nearest_names(prepared_home, tmp_path):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--model", "ground_truth", "--tasks",
                             f"{SUITE}_brid_seen_closed,finegrained_*", "--output_path", str(tmp_path / "run")],
                            capture_output=True, text=True, timeout=600, env=environment(prepared_home))
    assert result.returncode == 2
    assert f"'{SUITE}_brid_seen_closed'" in result.stderr and f"{SUITE}_bird_seen_closed" in result.stderr
    assert "finegrained_*" not in result.stderr.split("no task or group is called")[1].split("(")[0]
    assert not (tmp_path / "run").exists() and time.monotonic() - started < 120


@pytest.mark.slow(seconds=12)
def test_an_old_task_name_is_translated_with_a_note(prepared_home, tmp_path):
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--model", "ground_truth", "--tasks",
                             "finegrained_lite_bird_seen_closed", "--limit", "3", "--log_samples", "--output_path",
                             str(tmp_path / "run")], capture_output=True, text=True, timeout=600,
                            env=environment(prepared_home))
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"finegrained_lite_bird_seen_closed is now {SUITE}_bird_seen_closed" in result.stderr
    assert list((tmp_path / "run").rglob(f"*_samples_{SUITE}_bird_seen_closed.jsonl"))


@pytest.mark.slow(seconds=55)
def test_the_gpu_check_runs_its_cpu_part(prepared_home, tmp_path):
    result = subprocess.run([sys.executable, "-m", "finebench", "gpu-check", "--cpu", "--home", str(prepared_home),
                             "--workdir", str(tmp_path), "--limit", "2"], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
    rows = {line.split("  ")[0].strip(): line for line in result.stdout.splitlines()}
    assert " ran " in rows["lite benchmark, lmms-eval hf backend (cpu)"]
    assert " skipped " in rows["lite benchmark, lmms-eval vllm backend"] and "needs a GPU" in result.stdout
    assert " ran " in rows["TAPO, 2 steps, HF generate"] and " ran " in rows["SFT, 1 step, no DeepSpeed"]
    assert (tmp_path / "tapo" / "final" / "model.safetensors").is_file()
    assert (tmp_path / "sft" / "final" / "model.safetensors").is_file()
    assert len(records(tmp_path / "lite-hf")) == 48  # 24 tasks x --limit 2
    assert result.stdout.rstrip().endswith("nothing failed")
