"""Importing the released 404-sample CoT SFT set (LLaMA-Factory sharegpt format) for TRL.

Each record has a system prompt, a user turn "<image>question", the assistant's reasoning
ending in <answer>class</answer>, and one image path in the authors' own folder layout.
The image is resolved against the user's archives (the matching official training image),
and a record whose class is not a seen class is refused: it would leak the unseen split.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from finebench import atomic
from finebench.data.registry import get_dataset
from finebench.errors import FinebenchError

FOLDER_TO_DATASET = {"fgvc-aircraft-2013b-train": "aircraft", "bird_200": "bird", "stanford_cars_train": "car",
                     "dogs_120": "dog", "flower102_train": "flower", "oxford-pet-train": "pet"}
# Where the released path's file lives in the official archive: {name} the file, {folder} its class folder.
ARCHIVE_PATHS = {"aircraft": "data/images/{name}", "bird": "images/{folder}/{name}", "car": "cars_train/{name}",
                 "dog": "Images/{folder}/{name}", "flower": "jpg/{name}", "pet": "images/{name}"}
_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)


@dataclass
class Imported:
    records: list[dict] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # "<image path>: why"


def archive_path(released_path: str) -> tuple[str, str]:
    """(dataset, path inside the official archive) of an image path of the released CoT set."""
    parts = released_path.split("/")
    dataset = FOLDER_TO_DATASET.get(parts[0])
    if dataset is None:
        raise FinebenchError(f"image path {released_path!r} is not in the released CoT set's layout",
                             f"its first folder should be one of {', '.join(FOLDER_TO_DATASET)}")
    return dataset, ARCHIVE_PATHS[dataset].format(name=parts[-1], folder=parts[-2])


def to_trl(record: dict, image: Path, dataset: str, class_name: str) -> dict:
    """TRL's conversational prompt/completion format with one image: the loss falls on the completion."""
    system, user, assistant = record["messages"]
    question = user["content"].replace("<image>", "", 1).strip()
    return {"prompt": [{"role": "system", "content": [{"type": "text", "text": system["content"]}]},
                       {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]}],
            "completion": [{"role": "assistant", "content": [{"type": "text", "text": assistant["content"]}]}],
            "images": [str(image)], "dataset": dataset, "class_name": class_name}


def import_cot_sft(path: Path, archive_roots: Mapping[str, Path], seen_classes: Mapping[str, frozenset]) -> Imported:
    """Resolve every record's image and check its class; archive_roots and seen_classes are per dataset."""
    try:
        records = json.loads(Path(path).read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise FinebenchError(f"cannot read the CoT set {path} ({error})",
                             "pass the released Fine-R1-Stage1-data.json (a JSON list of sharegpt records)") from None
    imported = Imported()
    for record in records:
        released = record["images"][0]
        dataset, inside = archive_path(released)
        answer = _ANSWER.search(record["messages"][-1]["content"])
        class_name = answer.group(1).strip() if answer else ""
        if not get_dataset(dataset).is_class(class_name):
            imported.refused.append(f"{released}: answer {class_name!r} is not a {dataset} class")
        elif class_name not in seen_classes[dataset]:
            imported.refused.append(f"{released}: {class_name!r} is an unseen class")
        elif dataset not in archive_roots:
            imported.refused.append(f"{released}: no {dataset} archive was found")
        elif not (archive_roots[dataset] / inside).is_file():
            imported.refused.append(f"{released}: {archive_roots[dataset] / inside} does not exist")
        else:
            imported.records.append(to_trl(record, archive_roots[dataset] / inside, dataset, class_name))
    return imported


def write_jsonl(records: list[dict], path: Path) -> Path:
    atomic.write_text(path, "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records))
    return path
