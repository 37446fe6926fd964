"""The circular closed world: each line asked once per rotation of its balanced option order.

Rotation r shows the options balanced[r:] + balanced[:r], so over a line's four rotations each
option stands in each position exactly once. Every rotation is scored as the finebench closed
world scores a line (the answer names the ground truth and no other option); a line is right
under `circular_accuracy` only when all four rotations are. A model answering by position (or at
random, 1/4 each time) cannot pass: `first_option` scores 0, `random_option` 1/256.

The lmms-eval task asks the rotations of line i as documents 4i..4i+3 (taskhooks.circular_docs),
so a --limit of 4k documents covers k whole lines, and a line's records are found by sample_id.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from . import metrics
from .matching import named_classes, only_target
from .parsing import finebench_answer

ROTATIONS = 4
Doc = Mapping[str, object]


def rotated(options: Sequence[str], rotation: int) -> list[str]:
    """The options as rotation ``rotation`` shows them."""
    return [*options[rotation:], *options[:rotation]]


def unrotated(shown: Sequence[str], rotation: int) -> list[str]:
    """The balanced order back from the options a rotation showed (for rescoring a logged record)."""
    return rotated(shown, (ROTATIONS - rotation) % ROTATIONS)


def score_rotation(doc: Doc, output: str) -> dict[str, dict]:
    """The records of one rotation of a line: its 0/1 score under circular_accuracy (with what rescoring and
    ingest read: the line, the options shown, the rotation, the ground truth's position), under
    rotated_accuracy, and under the accuracy of the ground truth's position."""
    truth, rotation = str(doc["ground_truth"]), int(doc["rotation"])
    shown = rotated(list(doc["balanced_options"]), rotation)
    answer = finebench_answer(output)
    named = named_classes(answer, shown)
    score, position = float(only_target(named, truth)), shown.index(truth)
    return {
        metrics.CIRCULAR_ACCURACY: {"score": score, "answer": answer, "named": sorted(named), "options": shown,
                                    "rotation": rotation, "position": position, **metrics.record_identity(doc)},
        metrics.ROTATED_ACCURACY: {"score": score},
        metrics.POSITION_ACCURACIES[position]: {"score": score},  # only the position it stood at this time
    }


def line_groups(records: Sequence[Mapping]) -> list[list[Mapping]]:
    """The circular_accuracy records grouped by line (sample_id), each group in rotation order, lines in order
    of first appearance."""
    groups: dict[str, list[Mapping]] = {}
    for record in records:
        groups.setdefault(str(record["sample_id"]), []).append(record)
    return [sorted(group, key=lambda record: int(record["rotation"])) for group in groups.values()]


def whole(group: Sequence[Mapping]) -> bool:
    """Whether a line's records are its four rotations, each once."""
    return sorted(int(record["rotation"]) for record in group) == list(range(ROTATIONS))


def line_score(group: Sequence[Mapping], metric: str) -> float:
    """A line's score from its rotations: circular, 1 only if every rotation is right; rotated, their mean."""
    scores = [float(record["score"]) for record in group]
    return min(scores) if metric == metrics.CIRCULAR_ACCURACY else sum(scores) / len(scores)


def line_record(group: Sequence[Mapping], metric: str) -> dict:
    """One record for a whole line (as a plain task logs per line): its score under `metric`, and each rotation's
    answer and named option, in rotation order, for the views that show answers."""
    first = group[0]
    return {**{key: first[key] for key in ("sample_id", "dataset", "split", "ground_truth")},
            "score": line_score(group, metric),
            "answer": " | ".join(f"{int(r['rotation']) + 1}: {r.get('answer') or ''}" for r in group),
            "named": None, "position": None}


def circular_percent(records: Sequence[Mapping]) -> float:
    """lmms-eval's aggregation of circular_accuracy: the percentage of whole lines right in all four rotations
    (a line cut by --limit is left out, not counted wrong)."""
    lines = [group for group in line_groups(records) if whole(group)]
    if not lines:
        return float("nan")
    return 100.0 * sum(line_score(group, metrics.CIRCULAR_ACCURACY) for group in lines) / len(lines)
