"""Getting the answer out of a model's output, the official way and the finebench way."""

from __future__ import annotations

import re

_OFFICIAL_ANSWER = re.compile(r"<answer>(.*)</answer>", re.DOTALL)  # greedy: first <answer> to last </answer>
_OPEN_TAG = r"<\s*answer\s*>"
_CLOSE_TAG = r"<\s*/\s*answer\s*>"
# A complete block that contains no other opening tag, so nested tags yield the innermost.
_ANSWER_BLOCK = re.compile(rf"{_OPEN_TAG}((?:(?!{_OPEN_TAG}).)*?){_CLOSE_TAG}", re.DOTALL | re.IGNORECASE)
_UNCLOSED_ANSWER = re.compile(rf"{_OPEN_TAG}(?!.*{_OPEN_TAG})(.*)$", re.DOTALL | re.IGNORECASE)
_THINK_END = re.compile(r"<\s*/\s*think\s*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"<\s*/?\s*(?:answer|think)\s*>", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`#]+|^\s*>\s?", re.MULTILINE)
_LEAD_IN = re.compile(r"^\s*(?:final\s+)?(?:answer|choice|prediction)\s*(?:is)?\s*[:：-]\s*", re.IGNORECASE)


def official_answer(output: str) -> str | None:
    """The official extract_answer: greedy regex, stripped; None without both tags."""
    match = _OFFICIAL_ANSWER.search(output)
    return match.group(1).strip() if match else None


def _clean(text: str) -> str:
    text = _ANY_TAG.sub(" ", text)
    text = _MARKDOWN.sub(" ", text)
    text = _LEAD_IN.sub("", text.strip())
    text = " ".join(text.split())
    return text.strip(" .;:\"'“”‘’")


def finebench_answer(output: str) -> str:
    """The answer a reader would take from the output.

    The last complete <answer>…</answer> block; failing that, the text after an unclosed
    <answer>, then the text after the last </think>, then the whole output. Tags are
    matched regardless of case and inner spacing; markdown emphasis, a leading
    "Answer:" and surrounding punctuation are removed.
    """
    blocks = _ANSWER_BLOCK.findall(output)
    if blocks:
        return _clean(blocks[-1])
    unclosed = _UNCLOSED_ANSWER.search(output)
    if unclosed:
        return _clean(unclosed.group(1))
    after_think = _THINK_END.split(output)
    return _clean(after_think[-1] if len(after_think) > 1 else output)
