"""Scoring one generation (or many) against a prepared row, under both protocols.

Each metric's value is a small record, {"score": 0..1, "answer": …, …}: lmms-eval logs
it with the sample, so a run can be inspected and rescored later, and the task's
aggregation averages the "score" fields.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from finebench.data.registry import get_dataset

from . import metrics
from .circular import circular_percent, score_rotation
from .encoders import TextEncoder
from .matching import named_classes, only_target
from .parsing import finebench_answer, official_answer

Doc = Mapping[str, object]
SCORING_ERROR = "scoring_error"  # in every metric record of a line that could not be scored


def score_closed(doc: Doc, output: str) -> dict[str, dict]:
    truth = str(doc["ground_truth"])
    options = list(doc["balanced_options"])  # the same four names in either order: what counts is the set
    official = official_answer(output)
    answer = finebench_answer(output)
    named = named_classes(answer, options)  # matched once, for the score and for the record
    identity = metrics.record_identity(doc)
    return {
        metrics.OFFICIAL_ACCURACY: {"score": float(metrics.official_closed_correct(official, truth)),
                                    "answer": official, **identity},
        metrics.FINEBENCH_ACCURACY: {"score": float(only_target(named, truth)), "answer": answer,
                                     "named": sorted(named), "options": options, **identity},
    }


def open_world_texts(output: str) -> tuple[str, str]:
    """The two texts of an open-world output that are compared with the class name: what the official
    scorer reads, and the finebench answer."""
    return metrics.official_open_text(official_answer(output), output), finebench_answer(output)


def score_open_batch(docs: Sequence[Doc], outputs: Sequence[str], encoder: TextEncoder) -> list[dict[str, dict]]:
    """Score open-world generations, encoding every distinct string of the batch once."""
    parsed = []
    pairs = []
    for doc, output in zip(docs, outputs):
        truth = str(doc["ground_truth"])
        official_text, answer = open_world_texts(output)
        parsed.append((official_text, answer))
        pairs += [(official_text, truth), (str(doc["official_super_category"]), truth),
                  (answer, truth), (str(doc["super_category"]), truth)]
    similarities = encoder.similarities(pairs)
    records = []
    for index, (doc, (official_text, answer)) in enumerate(zip(docs, parsed)):
        truth, dataset = str(doc["ground_truth"]), str(doc["dataset"])
        official_sim, official_floor, sim, floor = similarities[4 * index:4 * index + 4]
        identity = metrics.record_identity(doc)
        records.append({
            metrics.OFFICIAL_INCLUSION: {
                "score": float(metrics.official_inclusion_correct(official_text, truth, dataset)),
                "answer": official_text, **identity},
            metrics.FINEBENCH_INCLUSION: {
                "score": float(metrics.finebench_inclusion_correct(answer, truth, get_dataset(dataset).class_names)),
                "answer": answer, **identity},
            metrics.OFFICIAL_SIMILARITY: {
                "score": metrics.relative_similarity(official_sim, official_floor), "answer": official_text,
                "super_category": doc["official_super_category"], "encoder": encoder.name, **identity},
            metrics.FINEBENCH_SIMILARITY: {
                "score": metrics.relative_similarity(sim, floor), "answer": answer,
                "super_category": doc["super_category"], "encoder": encoder.name, **identity},
        })
    return records


def unscored(doc: Doc, world: str, error: str) -> dict[str, dict]:
    """The records of a line that could not be scored: each metric NaN, with the error and the fields that
    `finebench rescore` reads back, so the run and its generations are kept and can be scored later.
    ``world`` is closed, open or circular (a rotation of a circular line)."""
    base = {**metrics.record_identity(doc), "score": float("nan"), SCORING_ERROR: error}
    if world == "circular":
        return {name: {**record, **base} for name, record in score_rotation(doc, "").items()}
    if world == "closed":
        return {metrics.OFFICIAL_ACCURACY: dict(base),
                metrics.FINEBENCH_ACCURACY: {**base, "named": [], "options": list(doc["balanced_options"])}}
    return {metrics.OFFICIAL_INCLUSION: dict(base), metrics.FINEBENCH_INCLUSION: dict(base),
            metrics.OFFICIAL_SIMILARITY: {**base, "super_category": doc["official_super_category"]},
            metrics.FINEBENCH_SIMILARITY: {**base, "super_category": doc["super_category"]}}


def mean_percent(records: Sequence[Mapping]) -> float:
    """The aggregation of every finebench metric but circular_accuracy: the mean score in percent, as the paper
    reports."""
    return 100.0 * sum(float(record["score"]) for record in records) / len(records) if records else float("nan")


def aggregate(metric: str, records: Sequence[Mapping]) -> float:
    """A metric's figure over a task's records, as its lmms-eval task aggregates them (rescore recomputes it)."""
    return circular_percent(records) if metric == metrics.CIRCULAR_ACCURACY else mean_percent(records)
