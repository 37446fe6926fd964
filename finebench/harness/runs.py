"""Reading an lmms-eval output folder: the newest results JSON and its samples files.

lmms-eval writes ``<stamp>_results.json`` and, per task, ``<stamp>_samples_<task>.jsonl``
beside it; `samples_file_name` is the one place that spells that rule.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Callable

from finebench.errors import FinebenchError
from finebench.scoring.protocols import Protocol

from .tasknames import VARIANTS, leaf_tasks, legacy_task_name

_STAMP = re.compile(r"^(?P<stamp>.+?)_results\.json$")


def samples_file_name(stamp: str, task: str) -> str:
    """The samples file lmms-eval writes for one task of the run ``stamp`` (and rescore writes again)."""
    return f"{stamp}_samples_{task}.jsonl"


@dataclass(frozen=True)
class TaskKey:
    name: str
    order: Protocol | None  # whose option order its closed world shows; None in the open world
    lite: bool
    dataset: str
    split: str
    world: str  # closed | open
    strategy: str = "zero-shot"  # zero-shot | zero-shot CoT | in-context (the paper's Fig. 3b)


@cache
def _task_keys() -> dict[str, TaskKey]:
    """Every task there is, by name (and by its 0.1 name, for older runs): read from tasknames, so a new
    variant cannot be missed."""
    keys = {}
    for lite in (False, True):
        for name, variant, dataset, split in leaf_tasks(lite):
            spec = VARIANTS[variant]
            for spelling in filter(None, (name, legacy_task_name(variant, dataset, split, lite))):
                keys[spelling] = TaskKey(spelling, spec.order, lite, dataset, split, spec.world, spec.strategy)
    return keys


def parse_task(name: str) -> TaskKey | None:
    """The task's key, or None for a group or another benchmark's task."""
    return _task_keys().get(name)


@dataclass
class Run:
    results_path: Path
    results: dict
    samples: dict[str, list[dict]] = field(default_factory=dict)  # finegrained task name -> samples

    @property
    def tasks(self) -> list[TaskKey]:
        return [key for key in map(parse_task, self.results.get("results", {})) if key is not None]

    @property
    def stamp(self) -> str:
        return _STAMP.match(self.results_path.name)["stamp"]

    def samples_path(self, task: str) -> Path:
        return self.results_path.with_name(samples_file_name(self.stamp, task))


def read_samples(path: Path) -> list[dict]:
    """A samples file's records; a line that is not a JSON object is named by file and line number."""
    samples = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                sample = json.loads(line)
            except ValueError as error:
                raise FinebenchError(f"{path}:{number}: not a JSON line ({error.msg} at column {error.colno}); the "
                                     "file was cut or damaged", "run the evaluation again into an empty folder "
                                     "(finebench eval's journal generates only what is missing)") from None
            if not isinstance(sample, dict):
                raise FinebenchError(f"{path}:{number}: a {type(sample).__name__}, not a sample record",
                                     "ingest only folders lmms-eval wrote with --log_samples")
            samples.append(sample)
    return samples


def read_results(results_path: Path, wanted: Callable[[TaskKey], bool] = lambda key: True) -> Run:
    """One run, from its results file, with the samples of the tasks ``wanted`` picks."""
    try:
        results = json.loads(results_path.read_text("utf-8"))
    except ValueError as error:
        raise FinebenchError(f"{results_path}: not JSON ({error})", "lmms-eval was stopped while writing it: "
                             "run the evaluation again into an empty folder") from None
    if not isinstance(results, dict):
        raise FinebenchError(f"{results_path}: not an lmms-eval results file", "pass an lmms-eval --output_path")
    run = Run(results_path, results)
    for key in run.tasks:
        path = run.samples_path(key.name)
        if wanted(key) and path.is_file():
            run.samples[key.name] = read_samples(path)
    return run


def read_run(folder: Path | str) -> Run:
    """The newest run under folder (lmms-eval nests it under the model's name)."""
    folder = Path(folder)
    candidates = sorted(folder.rglob("*_results.json"), key=lambda path: path.name)
    if not candidates:
        raise FinebenchError(f"no lmms-eval results (*_results.json) under {folder}",
                             "pass the folder given to lmms-eval as --output_path (with --log_samples)")
    return read_results(candidates[-1])


def output_text(sample: dict) -> str:
    """The model's output as the task scored it (lmms-eval stores one string, or a list of one)."""
    response = sample.get("filtered_resps", sample.get("resps"))
    while isinstance(response, list):
        response = response[0] if response else ""
    return response or ""
