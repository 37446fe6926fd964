"""`finebench bench harness`: lmms-eval with the ground_truth responder on the full benchmark,
so that only the harness's cost per line remains (lmms-eval's and finebench's own)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from finebench.data.fixtures import default_workers, write_archives
from finebench.data.manifests import TOTAL_LINES, load_manifests
from finebench.data.store import PreparedStore
from finebench.errors import FinebenchError
from finebench.home import prepared_dir

from .evalrun import run_lmms_eval
from .tasknames import BENCHMARK, task_name


def bench_harness(manifest_source: Path | None = None, workdir: Path | None = None) -> str:
    """The harness's own cost per line: the ground_truth responder through lmms-eval on the full benchmark."""
    owned = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="finebench-harness-"))
    home = workdir / "home"
    try:
        if not PreparedStore(prepared_dir(home)).metadata_path.is_file():
            from finebench.data.prepare import prepare

            write_archives(workdir / "data", load_manifests(manifest_source), workers=default_workers())
            prepare(workdir / "data", manifest_source, home=home)
        timings = {}
        runs = (("small", "one lite task (50 lines)", task_name("closed", "pet", "seen", lite=True)),
                ("first", "full benchmark, first run", BENCHMARK),
                ("cached", "full benchmark, cached data", BENCHMARK))
        for slug, label, tasks in runs:
            start = time.perf_counter()
            code = run_lmms_eval(["--model", "ground_truth", "--tasks", tasks, "--output_path",
                                  str(workdir / "runs" / slug), "--log_samples"], encoder="minilm", home=home,
                                 variables={"HF_DATASETS_CACHE": str(workdir / "hf-datasets")})
            timings[label] = time.perf_counter() - start
            if code != 0:
                raise FinebenchError(f"lmms-eval failed ({label})", "its log above says why")
        lines = 2 * TOTAL_LINES  # each manifest line is one closed and one open task line
        fixed = timings["one lite task (50 lines)"]
        per_line = (timings["full benchmark, cached data"] - fixed) / (lines - 50)
        return "\n".join([
            f"harness benchmark: ground_truth responder, {lines} lines (finegrained: 24 tasks), "
            f"{os.cpu_count()} cores, encoder minilm",
            *(f"  {label}: {seconds:.1f} s" for label, seconds in timings.items()),
            f"  harness cost per line (full run with cached data, less the fixed start-up cost of the small run): "
            f"{per_line * 1000:.2f} ms (target: under 2 ms)",
        ])
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
