"""The TAPO reward, as released: 0.9 x accuracy + 0.1 x format.

accuracy: the ground truth, lower-cased, inside the first <answer>…</answer> (non-greedy);
format: the whole response is <think>…</think> <answer>…</answer>, after removing the
spaces around "<", ">" and "/" (the release's fix for Qwen2.5-VL-32B's spacing).
"""

from __future__ import annotations

import re

FORMAT_WEIGHT = 0.1
_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_TAG_SPACING = re.compile(r"\s*(<|>|/)\s*")


def format_reward(response: str) -> float:
    return 1.0 if _FORMAT.fullmatch(_TAG_SPACING.sub(r"\1", response)) else 0.0


def accuracy_reward(response: str, ground_truth: str) -> float:
    match = _ANSWER.search(_TAG_SPACING.sub(r"\1", response))
    return 1.0 if match and ground_truth.lower() in match.group(1).strip().lower() else 0.0


def fgvr_reward(response: str, ground_truth: str, format_weight: float = FORMAT_WEIGHT) -> float:
    return (1 - format_weight) * accuracy_reward(response, ground_truth) + format_weight * format_reward(response)
