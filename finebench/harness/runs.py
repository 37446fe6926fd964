"""Reading an lmms-eval output folder: the newest results JSON and its samples files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from . import taskgen
from finebench.errors import FinebenchError

_STAMP = re.compile(r"^(?P<stamp>.+?)_results\.json$")


@dataclass(frozen=True)
class TaskKey:
    name: str
    official_order: bool  # the released option order (finegrained_official_*)
    lite: bool
    dataset: str
    split: str
    world: str  # closed | open
    strategy: str = "zero-shot"  # zero-shot | zero-shot CoT | in-context (the paper's Fig. 3b)


@cache
def _task_keys() -> dict[str, TaskKey]:
    """Every task taskgen writes, by name: read from taskgen itself, so a new variant cannot be missed."""
    keys = {}
    for lite in (False, True):
        for name, variant, dataset, split in taskgen.leaf_tasks(lite):
            spec = taskgen.VARIANTS[variant]
            keys[name] = TaskKey(name, variant == "official", lite, dataset, split, spec.world, spec.strategy)
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


def _read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def read_run(folder: Path | str) -> Run:
    """The newest run under folder (lmms-eval nests it under the model's name)."""
    folder = Path(folder)
    candidates = sorted(folder.rglob("*_results.json"), key=lambda path: path.name)
    if not candidates:
        raise FinebenchError(f"no lmms-eval results (*_results.json) under {folder}",
                             "pass the folder given to lmms-eval as --output_path (with --log_samples)")
    results_path = candidates[-1]
    run = Run(results_path, json.loads(results_path.read_text("utf-8")))
    for key in run.tasks:
        path = results_path.with_name(f"{run.stamp}_samples_{key.name}.jsonl")
        if path.is_file():
            run.samples[key.name] = _read_jsonl(path)
    return run


def output_text(sample: dict) -> str:
    """The model's output as the task scored it (lmms-eval stores one string, or a list of one)."""
    response = sample.get("filtered_resps", sample.get("resps"))
    while isinstance(response, list):
        response = response[0] if response else ""
    return response or ""
