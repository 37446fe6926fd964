"""The lmms-eval model `finebench_clip`: CLIP-like zero-shot answers to the finegrained_* tasks.

    --model finebench_clip --model_args name=siglip-l,templates=imagenet80,rule=cosine --batch_size 64

(lmms-eval's --batch_size is the number of images encoded at once.)
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms
from tqdm.auto import tqdm

from finebench.data.registry import get_dataset
from finebench.harness.responders import formatted, options_in_prompt
from finebench.home import finebench_home

from .clip import ClassEmbeddingCache, Encoder, choose, template_set


class FinebenchCLIP(lmms):
    def __init__(self, name: str = "siglip-l", templates: str = "photo", rule: str = "cosine",
                 batch_size: int | str = 32, device: str | None = None, seed: int | str = 0, **_ignored) -> None:
        super().__init__()
        if rule != "cosine":  # still a parameter, so that commands spelling out rule=cosine keep working
            raise ValueError(f"rule must be cosine (the paper's rule; there is no other), not {rule!r}")
        template_set(templates)  # fail early on an unknown template set
        self.name, self.templates, self.batch_size = name, templates, int(batch_size)
        self.encoder = Encoder(name, device, int(seed))
        self.cache = ClassEmbeddingCache(finebench_home() / "cache" / "clip")
        self.model_key = f"{name}|seed={seed}"

    def _answer(self, request: Instance, image_vector: np.ndarray) -> str:
        context, _, _, doc_id, task, split = request.args
        doc = self.task_dict[task][split][doc_id]
        dataset = get_dataset(str(doc["dataset"]))
        matrix = self.cache.get(self.encoder, self.model_key, dataset.key, self.templates)
        options = options_in_prompt(context)
        if options:  # the closed world: the rows of the four options
            candidates, vectors = options, matrix[[dataset.class_id(option) for option in options]]
        else:  # the open world: every class of the dataset, which the matrix holds in this order
            candidates, vectors = dataset.class_names, matrix
        index, _ = choose(image_vector, vectors)
        return formatted(candidates[index])

    def generate_until(self, requests: list[Instance]) -> list[str]:
        answers: list[str | None] = [None] * len(requests)
        by_task = defaultdict(list)
        for position, request in enumerate(requests):
            by_task[request.args[4], request.args[5]].append(position)
        bar = tqdm(total=len(requests), desc=f"finebench_clip {self.name}", unit="img")
        for (task, split), positions in by_task.items():
            for start in range(0, len(positions), self.batch_size):
                batch = positions[start:start + self.batch_size]
                images = []
                for position in batch:
                    _, _, doc_to_visual, doc_id, _, _ = requests[position].args
                    images.append(doc_to_visual(self.task_dict[task][split][doc_id])[0])
                for position, vector in zip(batch, self.encoder.images(images)):
                    answers[position] = self._answer(requests[position], vector)
                bar.update(len(batch))
        bar.close()
        return answers

    def generate_until_multi_round(self, requests: list[Instance]) -> list[str]:
        return self.generate_until(requests)

    def loglikelihood(self, requests: list[Instance]) -> list[tuple[float, bool]]:
        raise ValueError("finebench_clip answers generate_until tasks only (the finegrained_* tasks)")


def model_manifests():
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id="finebench_clip", simple_class_path=f"{__name__}.FinebenchCLIP")]
