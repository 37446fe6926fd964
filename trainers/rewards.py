"""The TAPO reward, as released: 0.9 x accuracy + 0.1 x format, and its TRL reward functions.

accuracy: the ground truth, lower-cased, inside the first <answer>…</answer> (non-greedy);
format: the whole response is <think>…</think> <answer>…</answer>, after removing the
spaces around "<", ">" and "/" (the release's fix for Qwen2.5-VL-32B's spacing). The
No-Thinking-RL baseline asks for <answer>…</answer> alone and checks that format instead.
"""

from __future__ import annotations

import re
from typing import Sequence

FORMAT_WEIGHT = 0.1
_FORMAT = re.compile(r"<think>.*?</think>\s*<answer>.*?</answer>", re.DOTALL)
_ANSWER_ONLY = re.compile(r"\s*<answer>.*?</answer>\s*", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
_TAG_SPACING = re.compile(r"\s*(<|>|/)\s*")


def format_reward(response: str, thinking: bool = True) -> float:
    pattern = _FORMAT if thinking else _ANSWER_ONLY
    return 1.0 if pattern.fullmatch(_TAG_SPACING.sub(r"\1", response)) else 0.0


def accuracy_reward(response: str, ground_truth: str) -> float:
    match = _ANSWER.search(_TAG_SPACING.sub(r"\1", response))
    return 1.0 if match and ground_truth.lower() in match.group(1).strip().lower() else 0.0


def fgvr_reward(response: str, ground_truth: str, format_weight: float = FORMAT_WEIGHT, thinking: bool = True) -> float:
    return ((1 - format_weight) * accuracy_reward(response, ground_truth)
            + format_weight * format_reward(response, thinking))


def completion_text(completion) -> str:
    """TRL hands completions as text or as a conversation [{"role": "assistant", "content": …}]."""
    if isinstance(completion, str):
        return completion
    content = completion[-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text") or "" for part in content if part.get("type") == "text")


class FGVRReward:
    """The reward as a TRL reward function: reads the `solution` column (the class name)."""

    def __init__(self, format_weight: float = FORMAT_WEIGHT, thinking: bool = True):
        self.format_weight, self.thinking = format_weight, thinking
        self.__name__ = "fgvr_reward" if thinking else "fgvr_reward_answer_only"

    def __call__(self, completions: Sequence, solution: Sequence[str], **_) -> list[float]:
        return [fgvr_reward(completion_text(completion), truth, self.format_weight, self.thinking)
                for completion, truth in zip(completions, solution)]


def inclusion_accuracy(completions: Sequence, solution: Sequence[str], **_) -> list[float]:
    """What dynamic sampling filters on and what weighs the inter-class KL: the release's `accuracy`."""
    return [accuracy_reward(completion_text(completion), truth) for completion, truth in zip(completions, solution)]
