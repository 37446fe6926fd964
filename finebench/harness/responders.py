"""Reference responders: lmms-eval models that answer without looking at the image.

They are the leaderboard's sanity rows and the harness's own end-to-end test models:

- ``ground_truth``: the right answer (every metric should be 100);
- ``first_option``: the first option of the prompt (100 on the official order, chance on ours);
- ``random_option``: a seeded random option (chance level, 25 % in the closed world);
- ``all_options``: every option at once (the exploit the official substring scorer rewards).

In the open world the prompt lists no options, so the candidates are all classes of the
dataset: the first class, a random class, every class, or the ground truth.
Registered through the ``lmms_eval.models`` entry point: ``--model first_option``.

With --model_args distinct=true, each open-world answer is a string of its own (the choice
and the line's number), as a real model's answers are, so that scoring costs what it costs in
a real run. Two variables make them instruments for testing the harness: FINEBENCH_RESPONDER_LOG=FILE
appends one JSON line per request answered (task, doc_id, rank), so the requests lmms-eval
sends can be counted, and FINEBENCH_RESPONDER_DELAY=SECONDS waits that long per request, as
a real model would.
"""

from __future__ import annotations

import abc
import ast
import json
import os
import random
import re
import time
from typing import Sequence

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm.auto import tqdm

from finebench.data.registry import get_dataset
from finebench.scoring.prompts import CLOSED_TEMPLATE

from .tasknames import RESPONDER_NAMES


def _options_pattern(template: str) -> re.Pattern:
    """The template's literal text, its question matched lazily and its options (a list literal) captured:
    built from the template itself, so a change of wording cannot leave the pattern behind."""
    before, after = template.split("{Options}")
    head, tail = before.split("{Question}")
    return re.compile(rf"{re.escape(head)}.*?{re.escape(tail)}(\[.*?\]){re.escape(after)}", re.DOTALL)


_OPTIONS_IN_PROMPT = _options_pattern(CLOSED_TEMPLATE)
LOG_VARIABLE = "FINEBENCH_RESPONDER_LOG"
DELAY_VARIABLE = "FINEBENCH_RESPONDER_DELAY"


def options_in_prompt(prompt: str) -> list[str] | None:
    """The options a closed-world prompt lists (a Python list literal, as the official prompt prints it)."""
    match = _OPTIONS_IN_PROMPT.search(prompt)
    return list(ast.literal_eval(match.group(1))) if match else None


def formatted(answer: str) -> str:
    return f"<think>A reference responder does not look at the image.</think> <answer>{answer}</answer>"


class ReferenceResponder(lmms):
    """Answers generate_until requests from the prompt's options (or the dataset's classes)."""

    def __init__(self, seed: int | str = 0, batch_size: int | str = 1, distinct: bool | str = False,
                 **_ignored) -> None:
        super().__init__()
        self.seed = int(seed)
        # distinct=true: every open-world answer a string of its own, as a real model's are (the encoder
        # cache cannot serve them), for measuring what scoring costs a real run
        self.distinct = str(distinct).lower() in ("1", "true", "yes")

    @abc.abstractmethod
    def choose(self, candidates: Sequence[str], truth: str, key: str) -> str:
        """The answer, from the candidates (or the truth); key seeds any randomness per document."""

    def respond(self, request: Instance) -> str:
        context, _, _, doc_id, task, split = request.args
        doc = self.task_dict[task][split][doc_id]
        options = options_in_prompt(context)
        candidates = options or list(get_dataset(str(doc["dataset"])).class_names)
        answer = self.choose(candidates, str(doc["ground_truth"]), f"{self.seed}:{task}:{doc_id}")
        if self.distinct and not options:
            answer = f"{answer} {doc_id}"  # as long as a real answer, and no two alike within a task
        return formatted(answer)

    @property
    def device(self):
        """Where lmms-eval puts the counts it gathers across data-parallel processes: the accelerator's
        device once the evaluator has given the model one, else the CPU."""
        import torch

        accelerator = getattr(self, "accelerator", None)
        return accelerator.device if accelerator is not None else torch.device("cpu")

    def generate_until(self, requests: list[Instance]) -> list[str]:
        log, delay = os.environ.get(LOG_VARIABLE), float(os.environ.get(DELAY_VARIABLE) or 0)
        answers = []
        for request in tqdm(requests, desc=type(self).__name__, unit="doc"):
            time.sleep(delay)
            answers.append(self.respond(request))
            if log:
                _, _, _, doc_id, task, _ = request.args
                with open(log, "a", encoding="utf-8") as handle:  # appended and closed: survives a kill
                    handle.write(json.dumps({"task": task, "doc_id": doc_id, "rank": self.rank}) + "\n")
        return answers

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        return self.generate_until(requests)

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise ValueError("reference responders answer generate_until tasks only (the finegrained_* tasks)")


class FirstOption(ReferenceResponder):
    def choose(self, candidates, truth, key):
        return candidates[0]


class RandomOption(ReferenceResponder):
    def choose(self, candidates, truth, key):
        return random.Random(key).choice(list(candidates))


class AllOptions(ReferenceResponder):
    def choose(self, candidates, truth, key):
        return ", ".join(candidates)


class GroundTruth(ReferenceResponder):
    def choose(self, candidates, truth, key):
        return truth


RESPONDERS = dict(zip(RESPONDER_NAMES, (FirstOption, RandomOption, AllOptions, GroundTruth), strict=True))


def model_manifests():
    """The lmms_eval.models entry point: one manifest per responder."""
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=name, simple_class_path=f"{__name__}.{cls.__name__}")
            for name, cls in RESPONDERS.items()]
