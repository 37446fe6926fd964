"""The prompts of the benchmark, exactly as the released evaluation script words them.

Both protocols use these two templates. The closed world differs only in the order of
the options it lists: the official order (ground truth first) for the `official`
variants, the finebench permutation (finebench.data.options) otherwise. The open-world
prompt has no options, so one generation is scored under both protocols.
"""

from __future__ import annotations

import hashlib
from typing import Sequence

CLOSED_TEMPLATE = (
    "Given the question: {Question}, based on the options provided in {Options}, "
    "output the thinking process in <think> </think> and final choice in <answer> </answer> tags. "
    "The response format should be: <think>...</think> <answer>choice</answer>."
)
OPEN_TEMPLATE = (
    "Given the question: {Question}. This is a fine-grained question. "
    "Output reasoning in <think></think> and the final answer in <answer></answer>."
)
# Zero-shot chain of thought (the paper's Fig. 3b), appended when a task asks for it.
STEP_BY_STEP = " Let's think step by step."


def closed_prompt(question: str, options: Sequence[str]) -> str:
    # The release formats the options with Python's str(list): ['A', 'B', 'C', 'D'].
    return CLOSED_TEMPLATE.format(Question=question, Options=list(options))


def open_prompt(question: str) -> str:
    return OPEN_TEMPLATE.format(Question=question)


def prompt_hash() -> str:
    """A short fingerprint of the prompt wording, recorded with every result."""
    return hashlib.sha256(f"{CLOSED_TEMPLATE}\n{OPEN_TEMPLATE}".encode()).hexdigest()[:16]
