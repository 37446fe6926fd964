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
