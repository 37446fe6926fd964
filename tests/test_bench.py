import re

from finebench.bench import bench_prepare


def test_prepare_benchmark_prints_its_figures(manifest_dir, tmp_path):
    report = bench_prepare(manifest_dir, ["pet"], size=(64, 48), lines_per_split=20, workdir=tmp_path)
    assert "40 images of 64x48 in 1 datasets" in report
    assert "images/s" in report and "peak RSS" in report and "re-run (nothing changed)" in report


def test_bench_tapo_prints_both_steps_and_their_ratio():
    from finebench.trainers.benchmark import bench_tapo

    report = bench_tapo(steps=1, tokens=8, rounds=1)
    assert re.search(r"DAPO .* \d+\.\d ms", report) and re.search(r"TAPO .* \d+\.\d ms", report)
    assert re.search(r"ratio TAPO / DAPO: \d+\.\d\d \((meets|misses) the target of <= 1.6\)", report)
