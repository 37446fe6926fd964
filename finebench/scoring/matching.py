"""Deciding which class names an answer names.

The official scorer tests substrings, so "rose" is found in "pink primrose" and an answer
listing all four options is correct. finebench matches whole words only (a name must not
be glued to letters or digits on either side) and lets the longest names claim their
text first, so "pink primrose" is one name, not also "rose".
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from functools import lru_cache
from typing import Iterable

_QUOTES = str.maketrans({"’": "'", "‘": "'", "`": "'", "–": "-", "—": "-"})


def normalize(text: str) -> str:
    """Lower case, underscores as spaces, one space between words, typographic quotes made plain."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).lower().replace("_", " ")
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def _name_pattern(name: str) -> re.Pattern:
    return re.compile(rf"(?<![0-9a-z]){re.escape(normalize(name))}(?![0-9a-z])")


@lru_cache(maxsize=256)
def _longest_first(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """(name, normalized name) pairs, longest first: computed once per list of names."""
    return tuple(sorted(((name, normalize(name)) for name in set(names)), key=lambda pair: (-len(pair[1]), pair[0])))


def named_classes(answer: str, names: Iterable[str]) -> frozenset[str]:
    """The names the answer mentions, longest first, each span of text claimed once."""
    return _named_classes(answer, tuple(names))


@lru_cache(maxsize=4096)  # a model gives the same answer to many lines (and a responder naming all classes, to all)
def _named_classes(answer: str, names: tuple[str, ...]) -> frozenset[str]:
    text = normalize(answer)
    starts: list[int] = []  # the claimed spans, sorted and disjoint: an answer listing every class claims
    ends: list[int] = []  # hundreds, and each new match is checked against its neighbours only
    found = set()
    for name, normalized in _longest_first(names):
        if normalized not in text:  # a plain substring test rules out almost every name cheaply
            continue
        for match in _name_pattern(name).finditer(text):
            start, end = match.span()
            place = bisect_right(starts, start)
            if (place == 0 or ends[place - 1] <= start) and (place == len(starts) or end <= starts[place]):
                starts.insert(place, start)
                ends.insert(place, end)
                found.add(name)
    return frozenset(found)


def only_target(named: frozenset[str], target: str) -> bool:
    """finebench's rule on what an answer names: the target, and no other of the names."""
    return named == {target}


def names_exactly(answer: str, target: str, names: Iterable[str]) -> bool:
    """True when the answer names the target and no other of the given names."""
    return only_target(named_classes(answer, names), target)
