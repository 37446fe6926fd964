"""Checking a teacher's structured answer (the paper's Table 5 prompt) before it becomes CoT data,
and writing a kept one in the released set's shape."""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from finebench.scoring.matching import named_classes

TAGS = ("analysis", "options", "comparison", "prediction")
REJECTIONS = ("missing_tags", "wrong_prediction", "prediction_not_in_options", "mixed_language")


def parse_structured(text: str) -> dict[str, str] | None:
    parts = {}
    for tag in TAGS:
        match = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.DOTALL)
        if match is None:
            return None
        parts[tag] = match.group(1).strip()
    return parts


def options_of(text: str) -> list[str]:
    """The candidates listed in <options>: one per line, comma or semicolon, list marks removed."""
    items = re.split(r"[\n,;]+", text)
    return [cleaned for item in items if (cleaned := re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", item).strip(" .*"))]


def is_mixed_language(text: str) -> bool:
    """Letters outside the Latin script (e.g. Chinese in an English answer)."""
    return any(char.isalpha() and not char.isascii() and not unicodedata.name(char, "").startswith("LATIN")
               for char in text)


def rejection(text: str, label: str, class_names: Sequence[str]) -> str | None:
    """Why a structured answer cannot be kept, or None when it can."""
    parts = parse_structured(text)
    if parts is None:
        return "missing_tags"
    if named_classes(parts["prediction"], class_names) != {label}:
        return "wrong_prediction"
    if not any(named_classes(option, class_names) == {label} for option in options_of(parts["options"])):
        return "prediction_not_in_options"
    if is_mixed_language(text):
        return "mixed_language"
    return None


def sft_completion(parts: dict[str, str], label: str) -> str:
    """The released set's shape: the four stages inside <think>, the class inside <answer>."""
    return (f"<think> Analysis of Visual Features:\n{parts['analysis']}\n\n Candidate Subcategories:\n"
            f"{parts['options']}\n\n Comparison Process:\n{parts['comparison']}\n\n Final Answer:\n"
            f"{parts['prediction']}\n</think>\n\n<answer>{label}</answer>")
