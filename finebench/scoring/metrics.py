"""The three metrics, per line, under both protocols.

Pure functions of (output, ground truth, …); similarity takes cosine values computed by
a text encoder (finebench.scoring.encoders), so each rule can be checked by hand.

Metric names are never prefixes or substrings of one another, because lmms-eval picks a
group's metrics by substring.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .matching import names_exactly

OFFICIAL_ACCURACY = "official_accuracy"
FINEBENCH_ACCURACY = "finebench_accuracy"
OFFICIAL_INCLUSION = "official_inclusion"
FINEBENCH_INCLUSION = "finebench_inclusion"
OFFICIAL_SIMILARITY = "official_similarity"
FINEBENCH_SIMILARITY = "finebench_similarity"
# the circular closed world (finebench.scoring.circular): each rotation's record carries its own 0/1 score
CIRCULAR_ACCURACY = "circular_accuracy"  # a line is right when all four rotations are
ROTATED_ACCURACY = "rotated_accuracy"  # plain accuracy over every rotation of every line
POSITION_ACCURACIES = tuple(f"position{place}_accuracy" for place in range(1, 5))  # the ground truth at option k


def record_identity(doc: Mapping[str, object]) -> dict:
    """The fields naming the line, copied into every metric record (rescore reads them back from there)."""
    return {"sample_id": doc["sample_id"], "dataset": doc["dataset"], "split": doc["split"],
            "ground_truth": doc["ground_truth"]}
CLOSED_METRICS = (OFFICIAL_ACCURACY, FINEBENCH_ACCURACY)
OPEN_METRICS = (OFFICIAL_INCLUSION, FINEBENCH_INCLUSION, OFFICIAL_SIMILARITY, FINEBENCH_SIMILARITY)
CIRCULAR_METRICS = (CIRCULAR_ACCURACY, ROTATED_ACCURACY, *POSITION_ACCURACIES)
ALL_METRICS = CLOSED_METRICS + OPEN_METRICS + CIRCULAR_METRICS


def _official_lower(text: str) -> str:
    return text.lower().replace("_", " ")


def official_closed_correct(answer: str | None, ground_truth: str) -> bool:
    """Official: an answer exists and contains the ground truth as a substring."""
    return bool(answer) and _official_lower(ground_truth) in _official_lower(answer)


def finebench_closed_correct(answer: str, ground_truth: str, options: Sequence[str]) -> bool:
    """finebench: the answer names the ground truth and no other option (whole words, longest first)."""
    return names_exactly(answer, ground_truth, options)


def official_open_text(answer: str | None, output: str) -> str:
    """What the official open-world scorer reads: the answer if non-empty, else the whole output."""
    return answer if answer else output


def official_inclusion_correct(text: str, ground_truth: str, dataset: str) -> bool:
    """Official: substring test; for cars only the name without its last two words (type and year)."""
    if dataset == "car":
        return " ".join(ground_truth.lower().split()[:-2]) in text.lower()
    return ground_truth.lower().replace("_", " ") in text.lower()


def finebench_inclusion_correct(answer: str, ground_truth: str, class_names: Sequence[str]) -> bool:
    """finebench: the full class name is named, and no other class of the dataset is."""
    return names_exactly(answer, ground_truth, class_names)


def relative_similarity(prediction_to_truth: float, category_to_truth: float) -> float:
    """How much closer the prediction is to the truth than the bare super-category word is.

    max(0, (sim(pred, gt) - sim(sup, gt)) / (1 - sim(sup, gt))): 1 for the exact name, 0
    for an answer no better than "bird". A super-category as similar as the truth itself
    leaves nothing to measure, and scores 0.
    """
    headroom = 1.0 - category_to_truth
    if headroom <= 1e-9:
        return 0.0
    return max(0.0, (prediction_to_truth - category_to_truth) / headroom)
