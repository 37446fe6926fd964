"""`finebench bench leaderboard`: the app's start and a filter change with 1,000 entries."""

from __future__ import annotations

import json
import random
import tempfile
import time
import urllib.request
from pathlib import Path

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.results import entries
from finebench.results.entries import Source
from finebench.scoring.protocols import Protocol

TARGET_SECONDS = 1.0


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


def bench_leaderboard(count: int = 1000, seed: int = 0) -> str:
    from .app import build_app
    from .settings import Settings

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as folder:
        results = Path(folder) / "results"
        results.mkdir()
        for index in range(count):
            (results / f"entry-{index:04d}.json").write_text(json.dumps(synthetic_entry(index, rng)))
        settings = Settings(results=(str(results),), queue=str(Path(folder) / "queue"), runs_dir=Path(folder))
        start = time.perf_counter()
        app = build_app(settings)
        app.launch(server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
        urllib.request.urlopen(app.local_url, timeout=30).read()
        started = time.perf_counter() - start
        board = app.leaderboard
        start = time.perf_counter()
        filtered = board.view("Closed-world accuracy", "model-01", ["general MLLM"], ["4-10B"],
                              [Protocol.FINEBENCH], [], [], None)
        filtered_seconds = time.perf_counter() - start
        app.close()
    rows = len(board.frames["Closed-world accuracy"])
    return "\n".join([
        f"leaderboard benchmark: {count} generated entries (+ the paper's {rows - count} rows)",
        f"  start (load, validate, rank, build, serve the first page): {started:.2f} s",
        f"  filter change (search + three filters, {len(filtered)} rows left): {filtered_seconds * 1000:.0f} ms",
        f"  target: each under {TARGET_SECONDS:.0f} s: "
        f"{'met' if max(started, filtered_seconds) < TARGET_SECONDS else 'MISSED'}",
    ])
