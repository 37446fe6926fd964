from finebench.bench import bench_prepare


def test_prepare_benchmark_prints_its_figures(manifest_dir, tmp_path):
    report = bench_prepare(manifest_dir, ["pet"], size=(64, 48), lines_per_split=20, workdir=tmp_path)
    assert "40 images of 64x48 in 1 datasets" in report
    assert "images/s" in report and "peak RSS" in report and "re-run (nothing changed)" in report
