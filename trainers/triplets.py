"""TAPO's (anchor, positive, negative) triplets over the k-shot training set.

For each anchor image: a positive (another image of its class) and a negative (an image
of the most similar *other seen* class). Similarity is pluggable: class-name text
embeddings by default (any finebench text encoder), or given vectors per class, such as
CLIP image centroids. The nearest-class table is written out for inspection.
"""

from __future__ import annotations

import json
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from finebench import atomic
from finebench.scoring.encoders import TextEncoder


@dataclass(frozen=True)
class Neighbour:
    nearest: str
    similarity: float


@dataclass(frozen=True)
class Triplet:
    anchor: str  # sample ids of the k-shot set
    positive: str
    negative: str
    anchor_class: str
    negative_class: str


def nearest_from_vectors(vectors: Mapping[str, np.ndarray]) -> dict[str, Neighbour]:
    """Each class's most similar other class by cosine of the given vectors."""
    names = sorted(vectors)
    matrix = np.stack([np.asarray(vectors[name], dtype=np.float64) for name in names])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    similarity = matrix @ matrix.T
    np.fill_diagonal(similarity, -np.inf)
    return {name: Neighbour(names[int(np.argmax(row))], float(np.max(row))) for name, row in zip(names, similarity)}


def nearest_by_name(class_names: Sequence[str], encoder: TextEncoder) -> dict[str, Neighbour]:
    """Nearest classes by the text embeddings of their names (the default similarity)."""
    names = sorted(set(class_names))
    return nearest_from_vectors(dict(zip(names, encoder.embed(names))))


def save_table(table: Mapping[str, Neighbour], path: Path) -> Path:
    atomic.write_json(path, {name: asdict(neighbour) for name, neighbour in sorted(table.items())})
    return path


def build_triplets(samples: Sequence[tuple[str, str]], table: Mapping[str, Neighbour], seed: int = 0) -> list[Triplet]:
    """samples: (sample id, class name) of the k-shot set; every class needs two images and a neighbour."""
    by_class: dict[str, list[str]] = {}
    for sample_id, name in samples:
        by_class.setdefault(name, []).append(sample_id)
    problems = [name for name, ids in by_class.items() if len(ids) < 2 or table[name].nearest not in by_class]
    if problems:
        raise ValueError(f"classes without a second image or a neighbour in the set: {sorted(problems)[:5]}")
    triplets = []
    for name, ids in sorted(by_class.items()):
        negative_class = table[name].nearest
        for anchor in sorted(ids):
            rng = random.Random(f"{seed}:{anchor}")
            positive = rng.choice([other for other in sorted(ids) if other != anchor])
            negative = rng.choice(sorted(by_class[negative_class]))
            triplets.append(Triplet(anchor, positive, negative, name, negative_class))
    return triplets


def save_triplets(triplets: Sequence[Triplet], path: Path) -> Path:
    atomic.write_text(path, "".join(json.dumps(asdict(t)) + "\n" for t in triplets))
    return path
