"""Constructing CoT SFT data with a teacher MLLM (paper §4.2 and Table 5).

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

import base64
import json
import os
import random
import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.scoring.matching import named_classes, normalize
from finebench.data.registry import get_dataset

from .cot_import import to_trl, write_jsonl
from .tapo_data import read_fewshot, seen_questions

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
TAGS = ("analysis", "options", "comparison", "prediction")
REJECTIONS = ("missing_tags", "wrong_prediction", "prediction_not_in_options", "mixed_language")


@dataclass(frozen=True)
class CotSettings:
    captions: int = 5
    concepts: int = 8
    attempts: int = 8
    caption_temperature: float = 0.7
    cot_temperature: float = 1.0
    max_tokens: int = 2048
    relevance_weight: float = 0.5  # MMR's lambda: relevance against redundancy with the concepts already kept


class Teacher(Protocol):
    name: str

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        """n sampled answers to one image and one prompt."""


# -- teachers ------------------------------------------------------------------------------------------------------


class OpenAITeacher:
    """Any OpenAI-compatible chat endpoint: `vllm serve`, SGLang, a hosted API (key from $OPENAI_API_KEY)."""

    def __init__(self, base_url: str, model: str, timeout: float = 600):
        self.base_url, self.model, self.timeout = base_url.rstrip("/"), model, timeout
        self.name = f"openai:{base_url}:{model}"

    def _post(self, body: dict) -> dict:
        import urllib.error
        import urllib.request

        key = os.environ.get("OPENAI_API_KEY", "none")
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise FinebenchError(f"the teacher at {self.base_url} did not answer ({error})",
                                 "start it (e.g. `vllm serve Qwen/Qwen2.5-VL-32B-Instruct`) and pass its /v1 URL"
                                 ) from None

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        url = f"data:image/jpeg;base64,{base64.b64encode(image).decode()}"
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                 {"type": "text", "text": prompt}]}]
        answers: list[str] = []
        while len(answers) < n:  # some servers ignore n: ask again for the rest
            body = {"model": self.model, "messages": messages, "n": n - len(answers), "temperature": temperature,
                    "max_tokens": max_tokens}
            choices = self._post(body).get("choices") or []
            if not choices:
                raise FinebenchError(f"the teacher at {self.base_url} returned no choices", "check its log")
            answers += [choice["message"]["content"] or "" for choice in choices]
        return answers[:n]


class HFTeacher:
    """A local transformers model (any AutoModelForImageTextToText with a chat template)."""

    def __init__(self, location: str, device: str | None = None):
        import torch

        from .models import load_model_and_processor

        self.name = f"hf:{location}"
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        model, self.processor = load_model_and_processor(
            location, torch.bfloat16 if self.device != "cpu" else torch.float32)
        self.model = model.to(self.device).eval()

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        import io

        import torch
        from PIL import Image

        picture = Image.open(io.BytesIO(image)).convert("RGB")
        messages = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": prompt}]}]
        text = self.processor.apply_chat_template(messages, add_generation_prompt=True)
        inputs = self.processor(images=[picture], text=[text], return_tensors="pt").to(self.device)
        with torch.no_grad():
            output = self.model.generate(**inputs, do_sample=True, temperature=temperature, max_new_tokens=max_tokens,
                                         num_return_sequences=n)
        return self.processor.batch_decode(output[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)


class VLLMTeacher:
    """vLLM in this process (GPU): the paper's Qwen2.5-VL-32B fits on two 80 GB cards."""

    def __init__(self, location: str):
        try:
            from vllm import LLM
        except ImportError:
            raise FinebenchError("the vllm teacher needs vLLM", 'pip install "finebench[vllm]" (CUDA machine)'
                                 ) from None
        self.name = f"vllm:{location}"
        self.llm = LLM(model=location, limit_mm_per_prompt={"image": 1})

    def chat(self, image: bytes, prompt: str, n: int, temperature: float, max_tokens: int) -> list[str]:
        from vllm import SamplingParams

        url = f"data:image/jpeg;base64,{base64.b64encode(image).decode()}"
        messages = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                 {"type": "text", "text": prompt}]}]
        outputs = self.llm.chat(messages, SamplingParams(n=n, temperature=temperature, max_tokens=max_tokens),
                                use_tqdm=False)
        return [completion.text for completion in outputs[0].outputs]


def load_teacher(spec: str) -> Teacher:
    kind, _, rest = spec.partition(":")
    if kind == "openai" and ":" in rest.removeprefix("http://").removeprefix("https://"):
        base_url, model = rest.rsplit(":", 1)
        return OpenAITeacher(base_url, model)
    if kind == "hf" and rest:
        return HFTeacher(rest)
    if kind == "vllm" and rest:
        return VLLMTeacher(rest)
    raise FinebenchError(f"cannot read the teacher {spec!r}",
                         "use openai:<base url>:<model> (e.g. openai:http://localhost:8000/v1:Qwen/Qwen2.5-VL-32B-"
                         "Instruct), hf:<id or folder> or vllm:<id or folder>")


# -- concepts ------------------------------------------------------------------------------------------------------

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


# -- checking a structured answer ----------------------------------------------------------------------------------


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


# -- the pipeline --------------------------------------------------------------------------------------------------


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
                image_path = output / "images" / dataset / f"{sample['sample_id'].rsplit('/', 1)[-1]}{suffix}"
                if not image_path.is_file():
                    atomic.write_bytes(image_path, sample["image"]["bytes"])
                records.append(sft_record(outcome, image_path))
    summary.output = output / "cot_sft.jsonl"
    write_jsonl(records, summary.output)
    atomic.write_json(output / "cot_stats.json", summary.as_dict())
    return summary
