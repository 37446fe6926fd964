"""One entry in detail: its provenance and, from its per-line sidecar, where it goes wrong."""

from __future__ import annotations

import json
from collections import Counter
from typing import Sequence

import pandas as pd

from finebench.results import conditions, lines

from .untrusted import as_text

NO_LINES = ("This entry carries no per-line scores (the paper's rows, and entries ingested before finebench "
            "recorded them): per-class accuracy and confusions need them.")


def closed_samples(columns: dict | None) -> tuple[dict, ...]:
    """The closed-world lines (truth, dataset, score, named) of an entry's per-line columns (a circular entry's:
    right only in all four rotations, no single option named); () without them."""
    if columns is None:
        return ()
    closed = columns["metric"] == lines.closed_metric(columns)
    return tuple({"truth": truth, "dataset": dataset, "score": score, "named": [named] if named else []}
                 for truth, dataset, score, named in zip(columns["ground_truth"][closed], columns["dataset"][closed],
                                                         columns["score"][closed], columns["named"][closed]))


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


def settings_markdown(held: conditions.Conditions) -> str:
    """The evaluation conditions as a line, and how they depart from the benchmark's reference, if they do."""
    listed = ", ".join(f"{name} {as_text(value)}" for name, value in held.described().items())
    departures = conditions.off_reference(held)
    verdict = ("the benchmark's reference settings" if not departures else
               "⚠ **not the reference settings** (" + as_text("; ".join(departures)) + "): ranked only among entries "
               "evaluated alike")
    return f"- settings: {verdict}; {listed}"


def provenance_markdown(entry: dict) -> str:
    """The entry's identity and provenance; every value in it came from a submitter, so each is shown as text
    (the provenance as JSON in a code block, whose fence no JSON line can close: each starts with a space or {})."""
    model, shown = entry["model"], lambda value: as_text(value or "—")
    lines = [f"### {shown(model['name'])}",
             f"- protocol **{shown(entry['protocol'])}**, subset {shown(entry.get('subset', 'full'))}, "
             f"source **{shown(entry['source'])}**, text encoder {shown(entry.get('text_encoder'))}",
             f"- hub id / path: {shown(model.get('id'))}, revision {shown(model.get('revision'))}, "
             f"backend {shown(model.get('backend'))}, family {shown(model.get('family'))}",
             settings_markdown(conditions.of(entry)),
             "", "```json", json.dumps(entry.get("provenance", {}), indent=2, sort_keys=True)[:6000], "```"]
    return "\n".join(lines)
