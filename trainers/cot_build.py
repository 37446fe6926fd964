"""Constructing CoT SFT data with a teacher MLLM (paper §4.2 and Table 5): the pipeline. The teachers
are in teachers.py, the choice of concepts in concepts.py, the checks of an answer in cot_checks.py.

For one k-shot image per seen class:
1. captions: the teacher describes the image several times, each prompt stressing other
   visual attributes;
2. concepts: the captions' sentences are pooled and the most useful kept, an information
   bottleneck in the spirit of Shi et al. (2025b), by maximal marginal relevance: relevant to
   the class (text similarity to its name, and support across captions) and not redundant
   with those already kept;
3. CoT: the structured prompt of Table 5 (<analysis>, <options>, <comparison>, <prediction>)
   is sampled until one response passes every check: the four tags are there, the prediction
   names the ground truth and no other class, it is among the response's own candidates, and
   the text is not in mixed language (the paper corrected those by hand; here they are
   resampled). At most `attempts` samples per image.
Kept responses become TRL prompt/completion records in the released set's shape: the system
prompt, the question, and "<think> … </think>\n\n<answer>class</answer>".

Resumable: each image's outcome is appended to progress.jsonl as soon as it is known, and
a rerun skips what is there. The dataset (cot_sft.jsonl) and the counts (cot_stats.json) are
written atomically at the end.
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

from finebench import atomic
from finebench.data.ids import stem
from finebench.data.registry import get_dataset

from .concepts import select_concepts
from .cot_checks import REJECTIONS, parse_structured, rejection, sft_completion
from .cot_import import to_trl, write_jsonl
from .tapo_data import read_fewshot, seen_questions
from .teachers import Teacher

# The system prompt of the released CoT SFT set.
SYSTEM_PROMPT = ("A conversation between User and Assistant. The user asks a question, and the Assistant solves it. "
                 "The assistant first thinks about the reasoning process in the mind and then provides the user with "
                 "the answer. The reasoning process and answer are enclosed within <think> </think> and <answer> "
                 "</answer> tags, respectively, i.e., <think> reasoning process here </think><answer> answer here "
                 "</answer>")
# Each caption stresses other attributes, so that together they approximate the image's features.
CAPTION_PROMPTS = (
    "Describe the {word} in this image in detail, focusing on its overall shape, size and proportions.",
    "Describe the colours, markings and patterns of the {word} in this image.",
    "Describe the distinctive parts of the {word} in this image, one by one.",
    "Describe the texture and the fine details of the {word} in this image.",
    "What visual details of the {word} in this image would help an expert identify its exact kind?",
    "Describe the {word} in this image as a field guide would.",
)
# The paper's Table 5, word for word.
STRUCTURED_TEMPLATE = (
    "This is a picture of a {label} with the following visual features: {concepts}. Based on the information "
    "provided, please answer the following question. Question: {question}. Note that you MUST first analyze the "
    "visual features that help you provide at most four candidate subcategories of the same super-category, then "
    "pay attention to the differences between candidate subcategories and make a detailed comparison between them "
    "to find evidence that help you make a prediction. The visual analysis process, candidate subcategories, "
    "comparison process, and final predicted subcategory are enclosed with <analysis></analysis>, "
    "<options></options>, <comparison></comparison>, and <prediction></prediction>tags, respectively, i.e., "
    "<analysis>visual analysis process here </analysis><options>candidate subcategories here </options>"
    "<comparison>comparison process here </comparison><prediction>predicted subcategory here </prediction>."
)


@dataclass(frozen=True)
class CotSettings:
    captions: int = 5
    concepts: int = 8
    attempts: int = 8
    caption_temperature: float = 0.7
    cot_temperature: float = 1.0
    max_tokens: int = 2048
    relevance_weight: float = 0.5  # MMR's lambda: relevance against redundancy with the concepts already kept


@dataclass
class CotSummary:
    teacher: str
    images: int = 0
    captions: int = 0
    concepts: int = 0
    attempts: int = 0
    kept: int = 0
    dropped: int = 0
    rejections: Counter = field(default_factory=Counter)
    output: Path | None = None

    def add(self, outcome: dict) -> None:
        self.images += 1
        self.captions += outcome["captions"]
        self.concepts += len(outcome["concepts"])
        self.attempts += len(outcome["rejections"]) + (outcome["status"] == "kept")
        self.rejections.update(outcome["rejections"])
        self.kept += outcome["status"] == "kept"
        self.dropped += outcome["status"] == "dropped"

    def as_dict(self) -> dict:
        values = asdict(self)
        values["rejections"] = {reason: self.rejections.get(reason, 0) for reason in REJECTIONS}
        values["output"] = str(self.output)
        return values

    def report(self) -> str:
        rejected = ", ".join(f"{reason} {self.rejections.get(reason, 0)}" for reason in REJECTIONS)
        return (f"teacher {self.teacher}: {self.images} images, {self.captions} captions, {self.concepts} concepts "
                f"kept, {self.attempts} CoT samples\nkept {self.kept}, dropped {self.dropped} (attempts rejected: "
                f"{rejected})\nwritten to {self.output}")


def one_image_per_class(samples: Sequence[dict]) -> list[dict]:
    first: dict[str, dict] = {}
    for sample in sorted(samples, key=lambda sample: sample["sample_id"]):
        first.setdefault(sample["class_name"], sample)
    return [first[name] for name in sorted(first)]


def construct_one(teacher: Teacher, sample: dict, dataset: str, question: str, settings: CotSettings,
                  encoder) -> dict:
    """Captions, concepts and CoT samples for one image; the outcome as progress.jsonl records it."""
    info, label, image = get_dataset(dataset), sample["class_name"], sample["image"]["bytes"]
    prompts = [CAPTION_PROMPTS[index % len(CAPTION_PROMPTS)].format(word=info.super_category)
               for index in range(settings.captions)]
    captions = [teacher.chat(image, prompt, 1, settings.caption_temperature, settings.max_tokens)[0]
                for prompt in prompts]
    concepts = select_concepts(captions, label, info.super_category, encoder, settings.concepts,
                               settings.relevance_weight)
    prompt = STRUCTURED_TEMPLATE.format(label=label, concepts="; ".join(concepts), question=question)
    outcome = {"key": sample["sample_id"], "dataset": dataset, "class_name": label, "question": question,
               "captions": len(captions), "concepts": concepts, "rejections": [], "status": "dropped"}
    for _ in range(settings.attempts):
        answer = teacher.chat(image, prompt, 1, settings.cot_temperature, settings.max_tokens)[0]
        reason = rejection(answer, label, info.class_names)
        if reason is None:
            outcome.update(status="kept", completion=sft_completion(parse_structured(answer), label))
            break
        outcome["rejections"].append(reason)
    return outcome


def read_progress(path: Path) -> dict[str, dict]:
    """Outcomes already recorded; a line cut short by a crash is ignored (its image is done again)."""
    done = {}
    if path.is_file():
        for line in path.read_text("utf-8").splitlines():
            try:
                outcome = json.loads(line)
            except ValueError:
                continue
            done[outcome["key"]] = outcome
    return done


def append_progress(path: Path, outcome: dict) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(outcome, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def sft_record(outcome: dict, image_path: Path) -> dict:
    record = {"messages": [{"role": "system", "content": SYSTEM_PROMPT},
                           {"role": "user", "content": f"<image>{outcome['question']}"},
                           {"role": "assistant", "content": outcome["completion"]}]}
    return to_trl(record, image_path, outcome["dataset"], outcome["class_name"])


def build_cot(teacher: Teacher, datasets_: Sequence[str], output: Path, shots: int = 4, seed: int = 1,
              settings: CotSettings = CotSettings(), encoder: str | None = None,
              home: Path | None = None) -> CotSummary:
    from tqdm import tqdm

    from finebench.scoring.encoders import load_encoder

    text_encoder = load_encoder(encoder)
    output.mkdir(parents=True, exist_ok=True)
    progress = output / "progress.jsonl"
    done = read_progress(progress)
    summary, records = CotSummary(teacher.name), []
    for dataset in datasets_:
        questions = seen_questions(dataset, home)
        images = one_image_per_class(read_fewshot(dataset, shots, seed, home))
        for sample in tqdm(images, desc=f"CoT {dataset}", unit="image"):
            outcome = done.get(sample["sample_id"])
            if outcome is None:
                question = random.Random(f"{seed}:{sample['sample_id']}").choice(questions)
                outcome = construct_one(teacher, sample, dataset, question, settings, text_encoder)
                append_progress(progress, outcome)
            summary.add(outcome)
            if outcome["status"] == "kept":
                suffix = Path(sample["image"]["path"] or "x.jpg").suffix
                image_path = output / "images" / dataset / f"{stem(sample['sample_id'])}{suffix}"
                if not image_path.is_file():
                    atomic.write_bytes(image_path, sample["image"]["bytes"])
                records.append(sft_record(outcome, image_path))
    summary.output = output / "cot_sft.jsonl"
    write_jsonl(records, summary.output)
    atomic.write_json(output / "cot_stats.json", summary.as_dict())
    return summary
