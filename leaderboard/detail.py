"""One entry in detail: its provenance and, when its samples are on disk, where it goes wrong."""

from __future__ import annotations

import functools
import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import pandas as pd

from finebench.harness.runs import read_results
from finebench.scoring.metrics import FINEBENCH_ACCURACY, OFFICIAL_ACCURACY
from finebench.scoring.protocols import Protocol

from .untrusted import as_text


def closed_samples(entry: dict) -> tuple[dict, ...]:
    """The entry's closed-world samples (truth, dataset, score, named), or () when its run is not on disk.

    provenance.run names the entry's own *_results.json, so that file is read rather than the
    newest run of its folder (a folder can hold several runs of the same model).
    """
    results = entry.get("provenance", {}).get("run")
    if not results or not Path(results).is_file():
        return ()
    path = Path(results).resolve()
    # the modification time is part of the key: a rescored run is read again, not served stale
    return _read_closed(str(path), path.stat().st_mtime_ns, entry["protocol"] == "official")


@functools.lru_cache(maxsize=8)  # a few entries: switching back and forth in the Details tab reads nothing
def _read_closed(results_path: str, _mtime_ns: int, official: bool) -> tuple[dict, ...]:
    order = Protocol.OFFICIAL if official else Protocol.FINEBENCH
    # only this protocol's closed tasks: the open world's samples are not needed here
    run = read_results(Path(results_path), lambda key: key.world == "closed" and key.order == order)
    metric = OFFICIAL_ACCURACY if official else FINEBENCH_ACCURACY
    return tuple(_closed_sample(sample, metric) for samples in run.samples.values() for sample in samples)


def _closed_sample(sample: dict, metric: str) -> dict:
    return {"truth": sample[metric]["ground_truth"], "dataset": sample[metric]["dataset"],
            "score": sample[metric]["score"], "named": sample[FINEBENCH_ACCURACY].get("named", [])}


def per_class_accuracy(samples: Sequence[dict]) -> pd.DataFrame:
    if not samples:
        return pd.DataFrame(columns=["dataset", "class", "lines", "accuracy"])
    frame = pd.DataFrame(list(samples))
    grouped = frame.groupby(["dataset", "truth"])["score"].agg(["count", "mean"]).reset_index()
    grouped.columns = ["dataset", "class", "lines", "accuracy"]
    grouped["accuracy"] = (grouped["accuracy"] * 100).round(1)
    return grouped.sort_values(["accuracy", "lines"], ascending=[True, False])


def confused_pairs(samples: Sequence[dict], top: int = 15) -> pd.DataFrame:
    """The most frequent (true class, the one other option answered instead) pairs."""
    pairs = Counter((s["dataset"], s["truth"], s["named"][0]) for s in samples
                    if not s["score"] and len(s["named"]) == 1)
    return pd.DataFrame([{"dataset": d, "true class": t, "answered": a, "lines": n}
                         for (d, t, a), n in pairs.most_common(top)],
                        columns=["dataset", "true class", "answered", "lines"])


def provenance_markdown(entry: dict) -> str:
    """The entry's identity and provenance; every value in it came from a submitter, so each is shown as text
    (the provenance as JSON in a code block, whose fence no JSON line can close: each starts with a space or {})."""
    model, shown = entry["model"], lambda value: as_text(value or "—")
    lines = [f"### {shown(model['name'])}",
             f"- protocol **{shown(entry['protocol'])}**, subset {shown(entry.get('subset', 'full'))}, "
             f"source **{shown(entry['source'])}**, text encoder {shown(entry.get('text_encoder'))}",
             f"- hub id / path: {shown(model.get('id'))}, revision {shown(model.get('revision'))}, "
             f"backend {shown(model.get('backend'))}, family {shown(model.get('family'))}",
             "", "```json", json.dumps(entry.get("provenance", {}), indent=2, sort_keys=True)[:6000], "```"]
    return "\n".join(lines)
