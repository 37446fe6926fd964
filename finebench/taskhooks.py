"""What the lmms-eval task YAMLs call (through tasks/utils.py): prompts, visuals, scoring, data.

lmms-eval hands each hook one document (a prepared row) at a time. The prepared data's
location comes from FINEBENCH_HOME through finebench.store, the one place that knows it.
"""

from __future__ import annotations

from typing import Mapping

from .encoders import load_encoder
from .home import prepared_dir
from .prompts import STEP_BY_STEP, closed_prompt, open_prompt
from .scoring import mean_percent, score_closed, score_open_batch
from .store import PreparedStore

Doc = Mapping[str, object]


def _wrap(text: str, kwargs: Mapping | None) -> str:
    kwargs = kwargs or {}
    text = f"{kwargs.get('pre_prompt', '')}{text}{kwargs.get('post_prompt', '')}"
    return text + STEP_BY_STEP if kwargs.get("step_by_step") else text


def doc_to_visual(doc: Doc) -> list:
    return [doc["image"].convert("RGB")]


def doc_to_target(doc: Doc) -> str:
    return str(doc["ground_truth"])


def closed_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """The released closed-world prompt, listing the options in the finebench order."""
    return _wrap(closed_prompt(str(doc["question"]), doc["finebench_options"]), lmms_eval_specific_kwargs)


def official_closed_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """The released closed-world prompt with the released option order (ground truth first)."""
    return _wrap(closed_prompt(str(doc["question"]), doc["official_options"]), lmms_eval_specific_kwargs)


def open_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    return _wrap(open_prompt(str(doc["question"])), lmms_eval_specific_kwargs)


def closed_process_results(doc: Doc, results: list[str]) -> dict:
    return score_closed(doc, results[0])


def open_process_results(doc: Doc, results: list[str]) -> dict:
    return score_open_batch([doc], [results[0]], load_encoder())[0]


def aggregate_percent(records: list) -> float:
    return mean_percent(records)


def data_files(unit: str, lite: bool = False) -> dict[str, list[str]]:
    """The prepared parquet files of a unit, for a task YAML's dataset_kwargs.data_files."""
    dataset, split = unit.split("_")
    return {"test": [str(path) for path in PreparedStore(prepared_dir()).data_files(dataset, split, lite)]}
