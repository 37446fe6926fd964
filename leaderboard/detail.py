"""One entry in detail: its provenance and, when its samples are on disk, where it goes wrong."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd

from finebench.metrics import FINEBENCH_ACCURACY, OFFICIAL_ACCURACY
from finebench.runs import read_run


def _closed_samples(entry: dict) -> list[dict]:
    results = entry.get("provenance", {}).get("run")
    if not results or not Path(results).is_file():
        return []
    run = read_run(Path(results).parent)
    official = entry["protocol"] == "official"
    metric = OFFICIAL_ACCURACY if official else FINEBENCH_ACCURACY
    return [{"truth": s[metric]["ground_truth"], "dataset": s[metric]["dataset"], "score": s[metric]["score"],
             "named": s[FINEBENCH_ACCURACY].get("named", [])}
            for key in run.tasks if key.world == "closed" and key.official_order == official
            for s in run.samples.get(key.name, [])]


def per_class_accuracy(entry: dict) -> pd.DataFrame:
    samples = _closed_samples(entry)
    if not samples:
        return pd.DataFrame(columns=["dataset", "class", "lines", "accuracy"])
    frame = pd.DataFrame(samples)
    grouped = frame.groupby(["dataset", "truth"])["score"].agg(["count", "mean"]).reset_index()
    grouped.columns = ["dataset", "class", "lines", "accuracy"]
    grouped["accuracy"] = (grouped["accuracy"] * 100).round(1)
    return grouped.sort_values(["accuracy", "lines"], ascending=[True, False])


def confused_pairs(entry: dict, top: int = 15) -> pd.DataFrame:
    """The most frequent (true class, the one other option answered instead) pairs."""
    pairs = Counter((s["dataset"], s["truth"], s["named"][0]) for s in _closed_samples(entry)
                    if not s["score"] and len(s["named"]) == 1)
    return pd.DataFrame([{"dataset": d, "true class": t, "answered": a, "lines": n}
                         for (d, t, a), n in pairs.most_common(top)],
                        columns=["dataset", "true class", "answered", "lines"])


def provenance_markdown(entry: dict) -> str:
    model = entry["model"]
    lines = [f"### {model['name']}", f"- protocol **{entry['protocol']}**, subset {entry.get('subset', 'full')}, "
             f"source **{entry['source']}**, text encoder {entry.get('text_encoder') or '—'}",
             f"- hub id / path: {model.get('id') or '—'}, revision {model.get('revision') or '—'}, "
             f"backend {model.get('backend') or '—'}, family {model.get('family') or '—'}",
             "", "```json", json.dumps(entry.get("provenance", {}), indent=2, sort_keys=True)[:6000], "```"]
    return "\n".join(lines)
