"""`finebench bench harness`: lmms-eval with the ground_truth responder on the full benchmark,
so that only the harness's cost per line remains (lmms-eval's and finebench's own): with and
without the generation journal, with the ground truth's answers (which the encoder's cache
serves) and with distinct open-world answers (what a real model's cost to score).

`finebench bench circular`: the same for the circular closed world against the plain one: its
cost per line (four generations each) and per generation."""

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
from .tasknames import BENCHMARK, suite, task_name, world_group

LINES = 2 * TOTAL_LINES  # each manifest line is one closed and one open task line
SMALL = ("small", "one lite task (50 lines): the fixed start-up cost", task_name("closed", "pet", "seen", lite=True),
         "", False)
# (slug, what it measures, tasks, model arguments, journaled)
RUNS = (
    SMALL,
    ("first", "full benchmark, first run (lmms-eval caches the data)", BENCHMARK, "", False),
    ("plain", "full benchmark", BENCHMARK, "", False),
    ("journal", "full benchmark, journaled", BENCHMARK, "", True),
    ("distinct", "full benchmark, distinct answers", BENCHMARK, "distinct=true", False),
    ("distinct-journal", "full benchmark, distinct answers, journaled", BENCHMARK, "distinct=true", True),
)


def _prepared_home(workdir: Path, manifest_source: Path | None) -> Path:
    home = workdir / "home"
    if not PreparedStore(prepared_dir(home)).metadata_path.is_file():
        from finebench.data.prepare import prepare

        write_archives(workdir / "data", load_manifests(manifest_source), workers=default_workers())
        prepare(workdir / "data", manifest_source, home=home)
    return home


def _timed_run(workdir: Path, home: Path, slug: str, tasks: str, model_args: str, journaled: bool) -> float:
    output, journal = workdir / "runs" / slug, workdir / "journals" / slug
    for stale in (output, journal):  # each run from scratch: nothing served from an earlier one
        shutil.rmtree(stale, ignore_errors=True)
    arguments = ["--model", "ground_truth", *(["--model_args", model_args] if model_args else []), "--tasks", tasks,
                 "--output_path", str(output), "--log_samples"]
    start = time.perf_counter()
    code = run_lmms_eval(arguments, encoder="minilm", home=home, journal=journal if journaled else None,
                         variables={"HF_DATASETS_CACHE": str(workdir / "hf-datasets")})
    if code != 0:
        raise FinebenchError(f"lmms-eval failed ({slug})", "its log above says why")
    return time.perf_counter() - start


def bench_harness(manifest_source: Path | None = None, workdir: Path | None = None) -> str:
    """The harness's cost per line, with and without the journal, with cached and with distinct answers."""
    owned = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="finebench-harness-"))
    try:
        home = _prepared_home(workdir, manifest_source)
        timings = {}
        for slug, label, tasks, model_args, journaled in RUNS:
            timings[slug] = _timed_run(workdir, home, slug, tasks, model_args, journaled)
            print(f"  {label}: {timings[slug]:.1f} s", flush=True)
        per_line = {slug: (timings[slug] - timings["small"]) / (LINES - 50) * 1000 for slug in timings}
        return "\n".join([
            f"harness benchmark: ground_truth responder, {LINES} lines (finegrained: 24 tasks), {os.cpu_count()} "
            "cores, encoder minilm; per line = (full run - the small run's fixed cost) / lines",
            *(f"  {label}: {timings[slug]:.1f} s" + (f", {per_line[slug]:.2f} ms per line" if slug != "small" else "")
              for slug, label, *_ in RUNS),
            f"  the journal's cost per line: {per_line['journal'] - per_line['plain']:+.2f} ms with cached answers, "
            f"{per_line['distinct-journal'] - per_line['distinct']:+.2f} ms with distinct ones (target: under 0.5)",
            f"  harness cost per line with distinct answers, journaled: {per_line['distinct-journal']:.2f} ms "
            "(target: under 2)",
        ])
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)


def bench_circular(manifest_source: Path | None = None, workdir: Path | None = None, lite: bool = False) -> str:
    """What the circular closed world costs the harness against the plain one: per line and per generation."""
    from finebench.data.lite import LITE_LINES_PER_SPLIT
    from finebench.scoring.circular import ROTATIONS

    owned = workdir is None
    workdir = Path(workdir or tempfile.mkdtemp(prefix="finebench-circular-"))
    lines = 12 * LITE_LINES_PER_SPLIT if lite else TOTAL_LINES
    runs = (SMALL, ("plain", f"plain closed world ({lines} generations)", world_group("closed", lite), "", False),
            ("circular", f"circular closed world ({ROTATIONS * lines} generations)", suite("circular", lite), "",
             False))
    try:
        home = _prepared_home(workdir, manifest_source)
        _timed_run(workdir, home, "warm", runs[2][2], "", False)  # lmms-eval caches the data once, for both
        timings = {}
        for slug, label, tasks, model_args, journaled in runs:
            timings[slug] = _timed_run(workdir, home, slug, tasks, model_args, journaled)
            print(f"  {label}: {timings[slug]:.1f} s", flush=True)
        per_line = {slug: (timings[slug] - timings["small"]) / lines * 1000 for slug in ("plain", "circular")}
        return "\n".join([
            f"circular benchmark: ground_truth responder, {lines} closed-world lines ({'lite' if lite else 'full'}), "
            f"{os.cpu_count()} cores; per line = (run - the small run's fixed cost) / lines",
            *(f"  {label}: {timings[slug]:.1f} s" for slug, label, *_ in runs),
            f"  per line: plain {per_line['plain']:.2f} ms, circular {per_line['circular']:.2f} ms "
            f"({per_line['circular'] / per_line['plain']:.2f}x; {ROTATIONS} generations a line)",
            f"  per generation: circular / plain = {per_line['circular'] / ROTATIONS / per_line['plain']:.2f}x "
            "(the rotations' own overhead: 1.00x is none)",
        ])
    finally:
        if owned:
            shutil.rmtree(workdir, ignore_errors=True)
