"""`finebench ingest` takes only whole runs: each way a run can be broken (cut short, lines of another
task, every line twice, a torn line, another task configuration, a --limit) is refused with the file and
the problem, or admitted and marked; re-ingesting says what it replaces and never silently replaces
another source's entry."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from finebench.errors import FinebenchError
from finebench.harness.runs import read_run
from finebench.results import entries
from finebench.results.entries import Source
from finebench.results.ingest import build_entries, ingest

AIRCRAFT, BIRD = "finegrained-lite_aircraft_seen_closed", "finegrained-lite_bird_seen_closed"


@pytest.fixture(scope="module")
def whole_run(prepared_home, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("whole-run")
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--no-journal", "--model", "ground_truth",
                             "--tasks", f"{AIRCRAFT},{BIRD}", "--log_samples", "--output_path", str(folder / "run")],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "FINEBENCH_HOME": str(prepared_home)})
    assert result.returncode == 0, result.stderr[-2000:]
    return folder / "run"


@pytest.fixture(autouse=True)
def manifests_at_hand(manifest_dir, monkeypatch):
    """Ingest checks each line against its unit's manifest when the manifests are at hand, as here."""
    monkeypatch.setenv("FINEBENCH_MANIFESTS", str(manifest_dir))


@pytest.fixture
def run(whole_run, tmp_path) -> Path:
    """A copy of the whole run to break."""
    shutil.copytree(whole_run, tmp_path / "run")
    return tmp_path / "run"


def samples_file(run: Path, task: str) -> Path:
    return next(run.rglob(f"*_samples_{task}.jsonl"))


def results_file(run: Path) -> Path:
    return next(run.rglob("*_results.json"))


def edit_results(run: Path, change) -> None:
    path = results_file(run)
    results = json.loads(path.read_text())
    change(results)
    path.write_text(json.dumps(results))


@pytest.mark.slow(seconds=15)  # its module's whole run
def test_a_whole_run_is_admitted_and_records_its_task_configuration(run):
    [entry] = build_entries(read_run(run))  # closed world in the finebench order: one protocol
    assert entry["partial"] is None and entry["provenance"]["tasks_differ"] is None
    configuration = entry["provenance"]["task_configurations"][BIRD]
    assert configuration["version"] == 1 and len(configuration["config_hash"]) == 16


def test_a_cut_run_is_refused_unless_admitted_as_partial(run):
    path = samples_file(run, BIRD)
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:20]))
    with pytest.raises(FinebenchError, match=f"lack lines, e.g. {BIRD}: 20 of 50") as refused:
        build_entries(read_run(run))
    assert "--allow-partial" in str(refused.value)
    entry = build_entries(read_run(run), allow_partial=True)[0]
    assert entry["partial"].endswith(f"{BIRD} 20/50") and entry["scores"]["closed_accuracy"]["bird"]["seen"]["n"] == 20
    assert "PARTIAL" in entries.format_table(entry)


def test_lines_of_another_task_are_refused(run):
    shutil.copy(samples_file(run, BIRD), samples_file(run, AIRCRAFT))
    with pytest.raises(FinebenchError, match=f"_samples_{AIRCRAFT}.jsonl:1: not a line of {AIRCRAFT}: it is a line "
                                             "of bird_seen"):
        build_entries(read_run(run))


def test_a_line_that_is_not_in_the_manifest_is_refused(run):
    path = samples_file(run, BIRD)
    lines = path.read_text().splitlines(keepends=True)
    lines[3] = lines[3].replace('"sample_id": "bird/', '"sample_id": "bird/not-in-the-manifest-')
    path.write_text("".join(lines))
    with pytest.raises(FinebenchError, match=r":4: not a line of .*not-in-the-manifest.* is not in the bird_seen"):
        build_entries(read_run(run))


def test_every_line_twice_is_refused(run):
    path = samples_file(run, BIRD)
    path.write_text(path.read_text() * 2)
    with pytest.raises(FinebenchError, match="50 lines logged more than once .100 lines for 50 documents."):
        build_entries(read_run(run))


def test_a_torn_line_is_named_by_file_and_line(run):
    path = samples_file(run, BIRD)
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:7]) + lines[7][:40])
    with pytest.raises(FinebenchError, match=rf"{path.name}:8: not a JSON line"):
        read_run(run)


def test_another_task_configuration_is_recorded_and_warned_about(run, capsys):
    edit_results(run, lambda results: results["configs"][BIRD]["metadata"].update(config_hash="0123456789abcdef"))
    entry = build_entries(read_run(run))[0]
    assert entry["provenance"]["tasks_differ"] == {BIRD: {"version": 1, "config_hash": "0123456789abcdef"}}
    assert "another finebench task configuration" in capsys.readouterr().err


def test_a_limit_run_is_partial_by_construction(run):
    def limit(results):
        results["config"]["limit"] = 5

    edit_results(run, limit)
    for task in (AIRCRAFT, BIRD):
        path = samples_file(run, task)
        path.write_text("".join(path.read_text().splitlines(keepends=True)[:5]))
    entry = build_entries(read_run(run))[0]
    assert entry["partial"] == "--limit 5" and entry["provenance"]["limit"] == 5


def test_reingesting_says_what_it_replaces_and_keeps_other_models_and_sources(run, tmp_path, capsys):
    first = ingest(run, tmp_path / "entries", name="m")
    assert len(first) == 1 and capsys.readouterr().err == ""
    legacy = tmp_path / "entries" / entries.legacy_file_name(entries.read(first[0]))
    legacy.write_text(first[0].read_text())  # the same entry under finebench 0.1's file name
    ingest(run, tmp_path / "entries", name="m")
    assert f"replacing {first[0]}" in capsys.readouterr().err and not legacy.exists()  # never shown twice
    submitted = ingest(run, tmp_path / "entries", name="m", source=Source.SUBMITTED)
    assert submitted != first and entries.read(first[0])["source"] == "reproduced"  # a file of its own
    with pytest.raises(FinebenchError, match="another run: its model id None .new: 'org/other'."):
        ingest(run, tmp_path / "entries", name="m", model_id="org/other")
    assert entries.read(first[0])["model"]["id"] is None
    ingest(run, tmp_path / "entries", name="m", model_id="org/other", force=True)
    assert entries.read(first[0])["model"]["id"] == "org/other"


def test_ingest_writes_the_per_line_sidecar_the_entry_names(run, tmp_path):
    from finebench.results import lines

    out = tmp_path / "results"
    [written] = ingest(run, out)
    entry = entries.read(written)
    sidecar = out / entry["lines"]["file"]
    columns = lines.load(entry, lambda path: (out / path).read_bytes(), str)
    assert entry["lines"]["rows"] == 100 and set(columns["metric"]) == {"closed_accuracy"}
    assert sorted(set(columns["dataset"])) == ["aircraft", "bird"] and set(columns["split"]) == {"seen"}
    assert (columns["score"] == 1.0).all() and list(columns["named"]) == list(columns["ground_truth"])
    assert set(columns["position"]) == {0, 1, 2, 3}  # the finebench order puts the answer in every place
    assert entry["positions"] == [100.0] * 4  # the profile the leaderboard draws, kept in the entry
    with pytest.raises(FinebenchError, match="positions/2 is nan, not a percentage"):
        entries.validate({**entry, "positions": [100.0, 100.0, float("nan"), 100.0]})
    assert len(set(columns["sample_id"])) == 100
    before = sidecar.stat().st_mtime_ns
    ingest(run, out)  # the same run again: the same sidecar, left as it is
    assert sidecar.stat().st_mtime_ns == before and [p.name for p in (out / "lines").iterdir()] == [sidecar.name]
