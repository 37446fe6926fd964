"""Choosing a caption's visual concepts (paper §4.2): the captions' sentences pooled, and the most
useful kept by maximal marginal relevance, an information bottleneck in the spirit of Shi et al.
(2025b): relevant to the class (text similarity to its name, and support across captions) and not
redundant with the concepts already kept."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from finebench.scoring.matching import normalize

_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_LEAD_IN = re.compile(r"^(?:[-*•\d.)\s]+|(?:the|this) (?:image|picture|photo) (?:shows|depicts|features)\s+)", re.I)


def candidate_concepts(captions: Sequence[str]) -> dict[str, set[int]]:
    """The captions' sentences, stripped of list marks and lead-ins, 3 to 40 words long, each once,
    with the captions (by index) that say it."""
    concepts: dict[str, set[int]] = {}
    keys: dict[str, str] = {}  # normalised form -> the concept as first written
    for index, caption in enumerate(captions):
        for sentence in _SENTENCE.split(caption):
            concept = _LEAD_IN.sub("", sentence.strip()).strip(" .;:")
            key = normalize(concept)
            if 3 <= len(key.split()) <= 40:
                concepts.setdefault(keys.setdefault(key, concept), set()).add(index)
    return concepts


def select_concepts(captions: Sequence[str], label: str, word: str, encoder, keep: int,
                    relevance_weight: float = 0.5) -> list[str]:
    """Maximal marginal relevance: lambda * relevance - (1 - lambda) * similarity to the concepts kept.

    relevance, in [0, 1]: the mean of the similarity to the class ("a photo of a <label>") and the
    support, the share of captions that say the same thing (a sentence of theirs at cosine >= 0.8).
    """
    candidates = candidate_concepts(captions)
    if len(candidates) <= keep:
        return list(candidates)
    vectors = np.asarray(encoder.embed([f"a photo of a {label}, a type of {word}", *candidates]), dtype=np.float64)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    label_vector, vectors = vectors[0], vectors[1:]
    similar = vectors @ vectors.T >= 0.8
    sources = list(candidates.values())
    support = np.array([len(set().union(*(sources[j] for j in np.flatnonzero(row)))) for row in similar])
    relevance = (vectors @ label_vector + support / len(captions)) / 2
    chosen: list[int] = []
    while len(chosen) < keep:
        overlap = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(candidates))
        score = relevance_weight * relevance - (1 - relevance_weight) * overlap
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    names = list(candidates)
    return [names[index] for index in sorted(chosen)]
