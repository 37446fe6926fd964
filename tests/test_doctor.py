"""`finebench doctor` and the preflight of the evaluation commands: every blocker named, with its fix,
in seconds, before any generation."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from finebench.errors import FinebenchError
from finebench.harness import doctor

UNWRITABLE = "/proc/finebench-home"  # refused even to root, unlike a chmod-ed folder


def run_finebench(*arguments, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "finebench", *arguments], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def rows(report):
    return {check["name"]: check for check in report["checks"]}


@pytest.mark.slow(seconds=10)
def test_a_broken_machine_gets_each_blocker_named_and_a_non_zero_exit():
    started = time.monotonic()
    result = run_finebench("doctor", "--json", "--encoder", "google/siglip-base-patch16-256",
                           env={"FINEBENCH_HOME": UNWRITABLE, "HF_HUB_OFFLINE": "1",
                                "FINEBENCH_QUEUE": UNWRITABLE + "/queue"})
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    found = rows(report)
    assert report["blockers"] == sum(check["status"] == "fail" for check in report["checks"]) >= 4
    assert found["text encoder"]["status"] == "fail" and "offline" in found["text encoder"]["found"]
    assert "--encoder minilm" in found["text encoder"]["fix"]
    assert found["FINEBENCH_HOME"]["status"] == "fail" and "not writable" in found["FINEBENCH_HOME"]["found"]
    assert found["queue"]["status"] == "fail"
    assert found["prepared data"]["status"] == "fail" and "finebench prepare" in found["prepared data"]["fix"]
    assert found["lmms-eval"]["status"] == "ok" and found["tasks"]["status"] == "ok"
    assert time.monotonic() - started < 120  # offline is found out in seconds, not after retries


def _copy_home(prepared_home, tmp_path):
    home = tmp_path / "home"
    for folder in ("prepared", "fewshot"):
        shutil.copytree(prepared_home / folder, home / folder)
    return home


def test_stale_or_damaged_prepared_data_is_named_per_unit(prepared_home, tmp_path, monkeypatch, manifest_dir):
    home = _copy_home(prepared_home, tmp_path)
    metadata_path = home / "prepared" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    metadata["manifests"]["car_unseen.jsonl"]["sha256"] = "0" * 64  # prepared from another manifest
    metadata_path.write_text(json.dumps(metadata))
    (home / "prepared" / "bird_seen" / metadata["units"]["bird_seen"]["files"][0]).unlink()
    monkeypatch.setenv("FINEBENCH_MANIFESTS", str(manifest_dir))
    found = {check.name: check for check in doctor.check_prepared(home=home, against_archives=True)}
    car = found["prepared car_unseen"]
    assert car.status == doctor.FAIL and "not the pinned one" in car.found
    assert found["prepared bird_seen"].status == doctor.FAIL and "files are gone" in found["prepared bird_seen"].found
    assert "--datasets bird" in found["prepared bird_seen"].fix
    assert found["prepared dog_seen"].status == doctor.OK


def test_images_changed_since_prepare_are_a_warning(prepared_home, tmp_path, monkeypatch, manifest_dir, manifests):
    home = _copy_home(prepared_home, tmp_path)
    archives = tmp_path / "archives"
    shutil.copytree(prepared_home / "archives" / "oxford-iiit-pet", archives / "oxford-iiit-pet", symlinks=True)
    metadata_path = home / "prepared" / "metadata.json"
    metadata = json.loads(metadata_path.read_text())
    for name in ("pet_seen", "pet_unseen"):
        metadata["units"][name]["archive_root"] = str(archives / "oxford-iiit-pet")
    metadata_path.write_text(json.dumps(metadata))
    line = manifests["pet", "unseen"].lines[0]
    (archives / "oxford-iiit-pet" / line.archive_path).write_bytes(b"another image")
    monkeypatch.setenv("FINEBENCH_MANIFESTS", str(manifest_dir))
    found = {check.name: check for check in doctor.check_prepared(["pet_seen", "pet_unseen"], home=home,
                                                                   against_archives=True)}
    assert found["prepared pet_seen"].status == doctor.OK  # copied with their times: unchanged
    assert found["prepared pet_unseen"].status == doctor.WARN and "changed since" in found["prepared pet_unseen"].found


def test_the_lock_check_names_what_differs(tmp_path):
    lock = tmp_path / "constraints.txt"
    lock.write_text("numpy==0.0.1  # via finebench\nnot-installed-anywhere==1.0\n")
    check = doctor.check_lock(lock)
    assert check.status == doctor.WARN and "numpy" in check.found and "(lock 0.0.1)" in check.found
    assert "-c" in check.fix


@pytest.mark.slow(seconds=10)
def test_eval_stops_before_any_generation_when_the_data_is_not_prepared(tmp_path):
    started = time.monotonic()
    result = run_finebench("eval", "--model", "ground_truth", "--tasks", "finegrained-lite_bird_seen_closed",
                           "--log_samples", "--output_path", str(tmp_path / "run"),
                           env={"FINEBENCH_HOME": str(tmp_path / "empty-home")})
    assert result.returncode == 2
    assert "prepared data: 1 unit not prepared" in result.stderr and "bird_seen" in result.stderr
    assert result.stderr.strip().splitlines()[-1].strip() == \
        "fix: run `finebench prepare --download --datasets bird`"
    assert not (tmp_path / "run").exists()  # lmms-eval never started
    assert time.monotonic() - started < 90


@pytest.mark.slow(seconds=15)
def test_the_preflight_probes_lmms_eval_once_per_installed_environment_whichever_the_home(prepared_home, tmp_path,
                                                                                          monkeypatch):
    monkeypatch.setenv("FINEBENCH_PROBE_CACHE", str(tmp_path / "probes"))
    home = tmp_path / "home"
    shutil.copytree(prepared_home / "prepared", home / "prepared")
    probes = []
    real_probe = doctor.run_probe
    monkeypatch.setattr(doctor.probes, "run_probe", lambda *args: probes.append(args) or real_probe(*args))
    for each in (home, home, prepared_home):  # the demo's home, a lab's second one: the same environment
        found = doctor.preflight("finegrained_bird_seen_closed,finegrained_pet_unseen_closed", tmp_path / "run", each)
        assert not [check for check in found.checks if check.blocks] and len(probes) == 1
    remembered = [path.name for path in (tmp_path / "probes").glob("*.json")]
    assert remembered == [f"lmms-eval-{doctor.probes.environment_key()}.json"]
    monkeypatch.setattr(doctor.probes, "environment_key", lambda: "something-was-upgraded")
    upgraded = {"evaluator": {"ok": True, "seconds": 1}}
    monkeypatch.setattr(doctor.probes, "run_probe", lambda *args: probes.append(args) or upgraded)
    doctor.preflight("finegrained_bird_seen_closed", None, home)
    assert len(probes) == 2  # a changed environment is probed again
    with pytest.raises(FinebenchError, match="not prepared"):
        doctor.require_preflight("eval", "finegrained_bird_seen_closed", None, tmp_path / "empty")


def test_the_environment_is_one_whichever_name_started_its_python():
    """`python -m finebench`, `python3 …` and a console script's shebang share one remembered probe."""
    from pathlib import Path

    key = "from finebench.harness.doctor.probes import environment_key; print(environment_key())"
    keys = {subprocess.run([str(Path(sys.executable).parent / name), "-c", key], capture_output=True, text=True,
                           check=True).stdout for name in ("python", "python3")}
    assert keys == {doctor.probes.environment_key() + "\n"}


def test_an_open_world_selection_loads_the_encoder_and_remembers_only_success(prepared_home, tmp_path,
                                                                              monkeypatch):
    monkeypatch.setenv("FINEBENCH_PROBE_CACHE", str(tmp_path / "probes"))
    home = tmp_path / "home"
    shutil.copytree(prepared_home / "prepared", home / "prepared")
    monkeypatch.setattr(doctor.probes, "evaluator_report", lambda: {"evaluator": {"ok": True, "seconds": 1}})
    answers = iter([{"error": "cannot load the text encoder 'x'"}, {"dimensions": 384, "seconds": 2.0}])
    monkeypatch.setattr(doctor.probes, "run_probe", lambda *args: next(answers))

    def encoder_rows(selection):
        return [check for check in doctor.preflight(selection, None, home, "minilm").checks
                if check.name == "text encoder"]

    assert encoder_rows("finegrained-lite_bird_seen_closed") == []  # no open world: no encoder needed
    [failed] = encoder_rows("finegrained-lite_bird_seen_open")
    assert failed.blocks and "--encoder minilm" in failed.fix
    [loaded] = encoder_rows("finegrained-lite_bird_seen_open")  # a failure was not remembered: tried again
    assert not loaded.blocks and "384 dimensions" in loaded.found
    [remembered] = encoder_rows("finegrained-lite_*")  # the iterator is spent: this one came from the cache
    assert remembered == loaded


def test_a_failing_evaluator_is_a_blocker_that_is_never_remembered(tmp_path, monkeypatch):
    broken = {"evaluator": {"ok": False, "error": "ModuleNotFoundError: No module named 'filelock._api'"}}
    monkeypatch.setattr(doctor.probes, "run_probe", lambda *args: broken)
    monkeypatch.setenv("FINEBENCH_PROBE_CACHE", str(tmp_path / "probes"))
    [check] = doctor.lmms_eval_checks(doctor.evaluator_report(), tasks_checked=False)
    assert check.blocks and "filelock._api" in check.found and "-c" in check.fix
    assert not list((tmp_path / "probes").glob("*.json"))  # nothing remembered (its lock file may remain)


def test_processes_starting_together_probe_once_and_share_the_report(tmp_path):
    """Four workers starting at once (one per GPU) wait for the one probing, instead of all loading the encoder
    on the same cores until every one of them runs out of time."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from finebench.harness.doctor import remembered

    probes, barrier = [], threading.Barrier(4)

    def probe():
        probes.append(1)
        time.sleep(0.5)
        return {"ok": True, "n": len(probes)}

    def start(_):
        barrier.wait()
        return remembered(tmp_path / "cache" / "probe.json", probe, lambda report: report["ok"])

    with ThreadPoolExecutor(4) as pool:
        reports = list(pool.map(start, range(4)))
    assert len(probes) == 1 and reports == [{"ok": True, "n": 1}] * 4
    failing = []
    remembered(tmp_path / "cache" / "fails.json", lambda: failing.append(1) or {"ok": False}, lambda r: r["ok"])
    remembered(tmp_path / "cache" / "fails.json", lambda: failing.append(1) or {"ok": False}, lambda r: r["ok"])
    assert len(failing) == 2  # a failure is never remembered: the next start looks again
