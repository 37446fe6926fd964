"""`finebench bench prepare`: prepare on full-size generated JPEGs, timed and measured.

The archives are generated first (not timed), then prepare runs in a child process so
that its own peak memory is measured (os.wait4), not the generator's.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from finebench.errors import FinebenchError

from .fixtures import FULL_SIZE, default_workers, write_archives
from .manifests import load_manifests
from .registry import parse_dataset_list

TARGET_SECONDS = 600
TARGET_PEAK_BYTES = 2 * 2**30


@dataclass
class Run:
    seconds: float
    peak_rss_bytes: int


def run_prepare(data_root: Path, home: Path, manifest_source: Path | None, keys: Sequence[str],
                workers: int | None, subset: bool) -> Run:
    command = [sys.executable, "-m", "finebench", "prepare", "--data-root", str(data_root),
               "--datasets", *keys, "--no-fewshot"]
    if subset:
        command.append("--allow-missing")
    if manifest_source:
        command += ["--manifests", str(manifest_source)]
    if workers:
        command += ["--workers", str(workers)]
    environment = {**os.environ, "FINEBENCH_HOME": str(home)}
    start = time.perf_counter()
    process = subprocess.Popen(command, env=environment)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise FinebenchError(f"prepare failed with exit code {process.returncode}", "its output above says why")
    return Run(seconds, usage.ru_maxrss * 1024)  # Linux reports kilobytes


def drop_page_cache() -> str:
    """Empty the kernel's page cache so prepare reads the JPEGs from disk (Linux, as root)."""
    os.sync()
    try:
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError as error:
        return f"warm (could not drop the page cache: {error.strerror})"
    return "dropped before the first run (images read from disk)"


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def bench_prepare(
    manifest_source: Path | None = None,
    datasets: Sequence[str] | None = None,
    size: tuple[int, int] = FULL_SIZE,
    lines_per_split: int | None = None,
    workers: int | None = None,
    workdir: Path | None = None,
    cold: bool = False,
) -> str:
    keys = parse_dataset_list(list(datasets) if datasets else None)
    manifests = load_manifests(manifest_source, keys)
    owned = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="finebench-bench-"))
    try:
        data_root, home = workdir / "data", workdir / "home"
        if home.exists():
            shutil.rmtree(home)
        start = time.perf_counter()
        write_archives(data_root, manifests, keys, lines_per_split, size=size, workers=default_workers())
        generate_seconds = time.perf_counter() - start
        subset = lines_per_split is not None
        cache = drop_page_cache() if cold else "warm (the archives were just written; --cold drops it)"
        cold = run_prepare(data_root, home, manifest_source, keys, workers, subset)
        warm = run_prepare(data_root, home, manifest_source, keys, workers, subset)
        images = sum(min(len(manifests[key].lines), lines_per_split or 10**9) for key in manifests)
        input_bytes = folder_bytes(data_root)
        output_bytes = folder_bytes(home / "prepared")
        verdict = "meets" if cold.seconds < TARGET_SECONDS and cold.peak_rss_bytes < TARGET_PEAK_BYTES else "MISSES"
        return "\n".join([
            f"prepare benchmark: {images} images of {size[0]}x{size[1]} in {len(keys)} datasets, "
            f"{os.cpu_count()} cores",
            f"  archives generated in {generate_seconds:.1f} s ({input_bytes / 2**20:.0f} MiB of files); "
            f"page cache: {cache}",
            f"  prepare: {cold.seconds:.1f} s, {images / cold.seconds:.0f} images/s, "
            f"peak RSS {cold.peak_rss_bytes / 2**20:.0f} MiB, {output_bytes / 2**20:.0f} MiB of parquet",
            f"  re-run (nothing changed): {warm.seconds:.1f} s, peak RSS {warm.peak_rss_bytes / 2**20:.0f} MiB",
            f"  target: under {TARGET_SECONDS} s and {TARGET_PEAK_BYTES / 2**30:.0f} GiB for all 35,566 "
            f"images: this run {verdict} it",
        ])
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
