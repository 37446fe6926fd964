import re

import pytest

from finebench.data.benchmark import bench_prepare


def test_prepare_benchmark_prints_its_figures(manifest_dir, tmp_path):
    report = bench_prepare(manifest_dir, ["pet"], size=(64, 48), lines_per_split=20, workdir=tmp_path)
    assert "40 images of 64x48 in 1 datasets" in report
    assert "images/s" in report and "peak RSS" in report and "re-run (nothing changed)" in report


def test_bench_tapo_reports_each_arm_and_the_ratios():
    from finebench.trainers.benchmark import bench_tapo

    report = bench_tapo(steps=1, tokens=8, rounds=1)
    medians = {arm: float(re.search(rf"{arm}.*?(\d+\.\d) ms", report).group(1))
               for arm in ("plain DAPO", "DAPO preset", "TAPO \\(5", "negative-image pass alone")}
    assert all(value > 0 for value in medians.values())
    assert medians["negative-image pass alone"] < medians["TAPO \\(5"]  # a part of the TAPO step
    ratio = float(re.search(r"ratio TAPO / plain DAPO: (\d+\.\d\d)", report).group(1))
    assert ratio == pytest.approx(medians["TAPO \\(5"] / medians["plain DAPO"], abs=0.02)


@pytest.mark.slow(seconds=15)
def test_bench_leaderboard_reports_cold_starts_against_a_bare_app():
    from finebench.leaderboard.benchmark import bench_leaderboard

    report = bench_leaderboard(count=30, repeats=1)
    first, restart, bare = (float(re.search(rf"{label}[^:]*: ([0-9.]+) s", report)[1])
                            for label in ("first start", "restart", "bare Gradio app"))
    assert 0 < bare and 0 < restart and 0 < first, report
    assert re.search(r"first start .*, [0-9.]+x the bare app", report) and "filter change" in report
    assert "30 generated entries" in report and "median of 1" in report


def test_bench_download_reports_both_ratios(manifest_dir, tmp_path):
    """The download benchmark end to end at a small scale (Oxford-IIIT Pet, tiny images): the loopback transfer
    against cat, the pull of a pushed copy against prepare, each with its target; the figures mean nothing here."""
    from finebench.data.download_benchmark import bench_download

    report = bench_download(manifest_dir, ["pet"], (32, 24), tmp_path / "work")
    assert re.search(r"download over loopback .* = \d+% of cat \(target >= 80%\): (met|MISSED)", report), report
    assert re.search(r"pull of a pushed copy .* = [0-9.]+x prepare \(target <= 1\.5x\): (met|MISSED)", report), report


def test_bench_scoring_times_both_scorers_and_they_agree(manifest_dir):
    """The scoring benchmark at a small scale (Oxford-IIIT Pet's lines, 20 lines the official way): both
    scorers' figures, and the official similarity the same from both (the figures mean nothing here)."""
    from finebench.errors import FinebenchError
    from finebench.scoring.benchmark import bench_scoring

    report = bench_scoring(manifest_dir, "minilm", official_lines=20, datasets=["pet"])
    lines = int(re.search(r"benchmark: (\d+) lines \(pet\)", report)[1])
    assert lines == sum(1 for path in manifest_dir.glob("pet_*.jsonl") for _ in path.open()), report
    assert re.search(r"timed on 20 lines", report) and re.search(r"speed-up: \d+x \(target: at least 20x\)", report)
    assert float(re.search(r"official similarities: ([0-9.e+-]+)", report)[1]) < 1e-4, report
    with pytest.raises(FinebenchError, match="no manifest lines of plane"):
        bench_scoring(manifest_dir, "minilm", official_lines=20, datasets=["plane"])
