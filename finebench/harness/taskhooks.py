"""What the lmms-eval task YAMLs call (through tasks/utils.py): prompts, visuals, scoring, data.

lmms-eval hands each hook one document (a prepared row) at a time. The prepared data's
location comes from FINEBENCH_HOME through finebench.data.store, the one place that knows it.
"""

from __future__ import annotations

import functools
import io
import sys
from typing import Callable, Mapping

from finebench.data.classnames import OFFICIAL_SUPER_CATEGORIES
from finebench.data.fewshot import DEFAULT_SHOTS, fewshot_path
from finebench.data.registry import get_dataset
from finebench.data.store import PreparedStore
from finebench.errors import FinebenchError
from finebench.home import prepared_dir
from finebench.scoring.circular import ROTATIONS, circular_percent, rotated, score_rotation
from finebench.scoring.encoders import load_encoder
from finebench.scoring.prompts import STEP_BY_STEP, closed_prompt, open_prompt
from finebench.scoring.scoring import mean_percent, open_world_texts, score_closed, score_open_batch, unscored

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
    """The official closed-world prompt, listing the options in the finebench order."""
    return _wrap(closed_prompt(str(doc["question"]), doc["balanced_options"]), lmms_eval_specific_kwargs)


def official_closed_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """The official closed-world prompt with the official option order (ground truth first)."""
    return _wrap(closed_prompt(str(doc["question"]), doc["official_options"]), lmms_eval_specific_kwargs)


def cot_closed_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """Zero-shot chain of thought (the paper's Fig. 3b): the finebench closed prompt plus "think step by step"."""
    return closed_doc_to_text(doc, {**(lmms_eval_specific_kwargs or {}), "step_by_step": True})


DEMONSTRATION_SEED = 1  # the k-shot set the in-context demonstrations come from


@functools.lru_cache(maxsize=8)
def demonstrations(dataset: str) -> dict:
    """One training image per seen class (the first of the k-shot set), as PIL images."""
    import pyarrow.parquet as pq
    from PIL import Image

    path = fewshot_path(dataset, DEFAULT_SHOTS, DEMONSTRATION_SEED)
    if not path.is_file():
        raise FinebenchError(f"in-context tasks need the {DEFAULT_SHOTS}-shot training set of {dataset} ({path})",
                             f"run `finebench fewshot --data-root <folder with the archives> --datasets {dataset}`")
    rows = sorted(pq.read_table(path, columns=["sample_id", "class_name", "image"]).to_pylist(),
                  key=lambda row: row["sample_id"])
    chosen = {}
    for row in rows:
        if row["class_name"] not in chosen:
            chosen[row["class_name"]] = Image.open(io.BytesIO(row["image"]["bytes"])).convert("RGB")
    return chosen


def demonstration_classes(doc: Doc) -> list[str]:
    """The options that are seen classes, in the order the prompt lists them: they get an example image."""
    available = demonstrations(str(doc["dataset"]))
    return [option for option in doc["balanced_options"] if option in available]


def icl_doc_to_visual(doc: Doc) -> list:
    examples = demonstrations(str(doc["dataset"]))
    return [examples[name] for name in demonstration_classes(doc)] + doc_to_visual(doc)


def icl_closed_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """In-context learning: one example image per candidate that is a seen class, then the question image."""
    names = demonstration_classes(doc)
    intro = "".join(f"Image {number}: an example of {name}. " for number, name in enumerate(names, start=1))
    question = f"Image {len(names) + 1} is the image in question. "
    return intro + question + closed_doc_to_text(doc, lmms_eval_specific_kwargs)


def circular_docs(dataset):
    """lmms-eval's process_docs of the circular tasks: each line as ROTATIONS documents, line i's rotation r at
    document ROTATIONS * i + r (a --limit of 4k documents is k whole lines). Built from ROTATIONS copies of
    the table that differ only in a small rotation column, then put in line order through an index, so the
    images are neither decoded nor copied."""
    import datasets

    if dataset._indices is not None:  # an index of its own would be flattened (copied) by add_column
        dataset = dataset.flatten_indices()
    lines = len(dataset)
    copies = [dataset.add_column("rotation", [rotation] * lines) for rotation in range(ROTATIONS)]
    return datasets.concatenate_datasets(copies).select(
        [rotation * lines + line for line in range(lines) for rotation in range(ROTATIONS)])


def circular_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    """The official closed-world prompt with the finebench order turned by the document's rotation."""
    return _wrap(closed_prompt(str(doc["question"]), rotated(list(doc["balanced_options"]), int(doc["rotation"]))),
                 lmms_eval_specific_kwargs)


def open_doc_to_text(doc: Doc, lmms_eval_specific_kwargs: Mapping | None = None) -> str:
    return _wrap(open_prompt(str(doc["question"])), lmms_eval_specific_kwargs)


def closed_process_results(doc: Doc, results: list[str]) -> dict:
    return scored_or_kept(lambda: score_closed(doc, results[0]), doc, "closed")


def circular_process_results(doc: Doc, results: list[str]) -> dict:
    return scored_or_kept(lambda: score_rotation(doc, results[0]), doc, "circular")


def open_process_results(doc: Doc, results: list[str]) -> dict:
    return scored_or_kept(lambda: score_open_batch([doc], [results[0]], load_encoder())[0], doc, "open")


def prefetch_embeddings(requests: list, answers: list) -> None:
    """Have the text encoder embed, in the background and in its large batches, the strings the scoring of
    these open-world answers compares: the answers' texts, and once per dataset its class names and
    super-categories (the other side of each similarity). lmms-eval scores line by line, and a line whose
    strings are not embedded yet costs forward passes of its own (a real model's answers are all distinct,
    and a lite run's truths are hundreds of class names). A failure is left to scoring, which reports it."""
    from lmms_eval.api.instance import unwrap_generation_output

    from .runs import parse_task

    keys = [parse_task(request.task_name) for request in requests]
    opened = [(key, answer) for key, answer in zip(keys, answers) if key is not None and key.world == "open"]
    texts = [text for _, answer in opened for text in open_world_texts(str(unwrap_generation_output(answer)[0]))]
    for dataset in sorted({key.dataset for key, _ in opened} - _names_prefetched):
        texts += [*get_dataset(dataset).class_names, get_dataset(dataset).super_category, *OFFICIAL_SUPER_CATEGORIES]
        _names_prefetched.add(dataset)
    if texts:
        try:
            load_encoder().prefetch(texts)
        except Exception:  # noqa: BLE001  the line-by-line scoring meets the same failure and keeps the run
            pass


_names_prefetched: set[str] = set()  # datasets whose class names this process has handed to the encoder


_reported: set[str] = set()


def scored_or_kept(score: Callable[[], dict], doc: Doc, world: str) -> dict:  # world: closed, open or circular
    """The line's records; if scoring fails (an encoder that cannot load, a bug), records that say so, so that
    lmms-eval still writes the run with every generation instead of retrying and discarding it. finebench
    eval and ingest refuse such a run and point to `finebench rescore`."""
    try:
        return score()
    except Exception as error:  # whatever broke, the generations must reach the disk
        message = f"{type(error).__name__}: {error}".replace("\n", " ")
        if message not in _reported:
            _reported.add(message)
            print(f"finebench: scoring failed, the generations are kept in the samples: {message}", file=sys.stderr)
        return unscored(doc, world, message)


def aggregate_percent(records: list) -> float:
    return mean_percent(records)


def aggregate_circular(records: list) -> float:
    return circular_percent(records)


def data_files(unit: str, lite: bool = False) -> dict[str, list[str]]:
    """The prepared parquet files of a unit, for a task YAML's dataset_kwargs.data_files: under FINEBENCH_HOME,
    or the URLs of the checked shared copy FINEBENCH_DATA names (datasets reads them over hf:// and fsspec)."""
    from finebench.data.sharing import data_location, shared_data

    dataset, split = unit.split("_")
    if (location := data_location()) is not None:
        return {"test": shared_data(location).data_files(dataset, split, lite)}
    return {"test": [str(path) for path in PreparedStore(prepared_dir()).data_files(dataset, split, lite)]}
