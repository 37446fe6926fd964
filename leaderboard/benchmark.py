"""`finebench bench leaderboard`: the app's start with 1,000 entries, against a bare Gradio app of the same
table, each a cold start in a fresh process; and a filter change.

A start is timed from just after `import gradio` (both apps pay that alike) to the first page served: for the
leaderboard, importing its modules, reading and validating every entry, ranking, building and launching; for
the bare app, reading the same closed-world table from a file and launching a Blocks that shows it. The
leaderboard is timed twice: a first start (nothing kept) and a restart (the entries kept by the first start's
reader in its cache folder, each file's version checked). They run alternately, `repeats` times each, and the
medians are compared in one run, so the ratios hold on a busy machine where absolute times do not.
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.results import entries
from finebench.results.entries import Source
from finebench.scoring.protocols import Protocol

TARGET_SECONDS = 1.0
CLOSED = "Closed-world accuracy"


def synthetic_entry(index: int, rng: random.Random) -> dict:
    def cell(value):
        return {"value": round(value, 2), "n": 1000, "ci95": [round(value - 2, 2), round(value + 2, 2)]}

    scores = {}
    protocol = rng.choice([Protocol.FINEBENCH, Protocol.OFFICIAL])
    for metric in entries.protocol_metrics(protocol):
        table = {d: {s: cell(rng.uniform(5, 95)) for s in SPLITS} for d in DATASET_KEYS}
        seen = sum(table[d]["seen"]["value"] for d in DATASET_KEYS) / 6
        unseen = sum(table[d]["unseen"]["value"] for d in DATASET_KEYS) / 6
        table["average"] = {"seen": cell(seen), "unseen": cell(unseen), "mean": cell((seen + unseen) / 2)}
        scores[metric] = table
    return {"schema_version": entries.SCHEMA_VERSION,
            "model": {"name": f"synthetic-model-{index:04d}", "id": f"org/model-{index}", "revision": "main",
                      "backend": "qwen2_5_vl", "family": rng.choice(entries.FAMILIES),
                      "parameters": rng.choice([2, 3, 7, 8, 13, 72])},
            "protocol": protocol, "subset": "full", "text_encoder": "minilm",
            "source": Source.SUBMITTED, "scores": scores, "provenance": {}}


def _serve(app) -> None:
    """Launch on a free port and fetch the first page, as a browser's first visit does."""
    app.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    urllib.request.urlopen(app.local_url, timeout=60).read()


def start_leaderboard(folder: Path, cache: Path | None = None) -> float:
    """One cold start of the leaderboard over folder/results (in this fresh process, gradio imported)."""
    started = time.perf_counter()
    from .app import build_app
    from .settings import Settings

    app = build_app(Settings(results=(str(folder / "results"),), queue=str(folder / "queue"), runs_dir=folder,
                             cache=cache))
    _serve(app)
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def start_bare(folder: Path) -> float:
    """One cold start of a bare Gradio app showing the same closed-world table (read from a file)."""
    import gradio as gr
    import pandas as pd

    started = time.perf_counter()
    table = pd.read_parquet(folder / "closed.parquet")
    with gr.Blocks() as app:
        gr.Dataframe(table, interactive=False)
    _serve(app)
    elapsed = time.perf_counter() - started
    app.close()
    return elapsed


def _cold(call: str, folder: Path) -> float:
    code = ("import gradio, sys; from pathlib import Path; from finebench.leaderboard import benchmark as b; "
            f"folder = Path(sys.argv[1]); print(b.{call})")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{call} failed: {done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def bench_leaderboard(count: int = 1000, seed: int = 0, repeats: int = 3) -> str:
    from .app import Leaderboard
    from .columns import DEFAULT_COLUMNS
    from .settings import Settings

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        (folder / "results").mkdir()
        for index in range(count):
            (folder / "results" / f"entry-{index:04d}.json").write_text(json.dumps(synthetic_entry(index, rng)))
        board = Leaderboard(Settings(results=(str(folder / "results"),), queue=str(folder / "queue"),
                                     runs_dir=folder))
        board.view(CLOSED, "", [], [], [], [], [], DEFAULT_COLUMNS).to_parquet(folder / "closed.parquet")
        first, restart, bare = [], [], []
        for _ in range(repeats):
            shutil.rmtree(folder / "cache", ignore_errors=True)
            first.append(_cold("start_leaderboard(folder)", folder))
            _cold("start_leaderboard(folder, folder / 'cache')", folder)  # fills the cache, as a first start does
            restart.append(_cold("start_leaderboard(folder, folder / 'cache')", folder))
            bare.append(_cold("start_bare(folder)", folder))
        started = time.perf_counter()
        filtered = board.view(CLOSED, "model-01", ["general MLLM"], ["4-10B"], [Protocol.FINEBENCH], [], [], None)
        filtered_seconds = time.perf_counter() - started
    rows = len(board.frames[CLOSED])
    medians = {name: statistics.median(times) for name, times in
               (("first", first), ("restart", restart), ("bare", bare))}
    shown = lambda times: ", ".join(f"{seconds:.2f}" for seconds in times)
    return "\n".join([
        f"leaderboard benchmark: {count} generated entries (+ the paper's {rows - count} rows), cold starts in fresh "
        f"processes, median of {repeats}",
        f"  first start (import, read and validate every entry, rank, build, serve the first page): "
        f"{medians['first']:.2f} s ({shown(first)}), {medians['first'] / medians['bare']:.2f}x the bare app",
        f"  restart (entries kept by the reader, versions checked): {medians['restart']:.2f} s ({shown(restart)}), "
        f"{medians['restart'] / medians['bare']:.2f}x the bare app",
        f"  bare Gradio app of the same table (read, build, serve): {medians['bare']:.2f} s ({shown(bare)})",
        f"  filter change (search + three filters, {len(filtered)} rows left): {filtered_seconds * 1000:.0f} ms",
        f"  target: a start and a filter change under {TARGET_SECONDS:.0f} s: "
        f"{'met' if max(medians['first'], filtered_seconds) < TARGET_SECONDS else 'MISSED'} (first start), "
        f"{'met' if max(medians['restart'], filtered_seconds) < TARGET_SECONDS else 'MISSED'} (restart)",
    ])
