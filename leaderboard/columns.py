"""The leaderboard's columns, declared once: name, type, whether shown by default, and how each
row's value comes from its entry (the Hugging Face leaderboard template's ColumnContent, without
its globals). The table, its default view, the column chooser and Gradio's datatypes all read it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.results import conditions, tables
from finebench.results.entries import Source
from finebench.scoring.protocols import Protocol

VIEWS = {  # tab title -> entry metric
    "Closed-world accuracy": "closed_accuracy",
    "Open-world similarity": "open_similarity",
    "Open-world text inclusion": "open_inclusion",
    "Circular accuracy": "circular_accuracy",  # the circular protocol: all four rotations of a line right
}
SIZE_BUCKETS = ("< 4B", "4-10B", "> 10B", "unknown")
SETTINGS_CHOICES = ("reference", "other")  # the Settings filter: entries at the benchmark's conditions, or not
OTHER_SETTINGS_MARK = "⚠ "
PROTOCOLS = tuple(Protocol)
SOURCES = tuple(Source)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # Gradio's datatype: "number" or "str"
    shown: bool  # in the default view
    value: Callable[[dict, str], object] | None  # (entry, metric) -> the cell; None: computed on the table (rank)


def cell(dataset: str, split: str) -> Callable[[dict, str], float | None]:
    def value(entry: dict, metric: str) -> float | None:
        cell = tables.cell_value(entry, metric, split, dataset)
        return None if cell is None else round(cell["value"], 2)
    return value


def mean_cell(entry: dict, metric: str) -> dict:
    return entry["scores"].get(metric, {}).get("average", {}).get("mean") or {}


def _interval(entry: dict, metric: str) -> str:
    interval = mean_cell(entry, metric).get("ci95")
    return f"{interval[0]:.1f}–{interval[1]:.1f}" if interval else ""


def _model(entry: dict, metric: str) -> str:
    """The model's name, marked when the entry covers fewer lines than its subset (a partial run)."""
    return entry["model"]["name"] + (" ⚠ partial" if entry.get("partial") else "")


def condition_cells(held: conditions.Conditions) -> dict[str, str]:
    """The condition columns of a row: each condition in words, and "settings", the row's group (the reference, or
    what departs from it, marked) by which it is ranked and filtered."""
    label = conditions.group(held)
    marked = label if label == conditions.REFERENCE_LABEL else OTHER_SETTINGS_MARK + label
    return {**held.described(), "settings": marked}


COLUMNS = (
    Column("rank", "number", True, None),
    Column("model", "str", True, _model),
    Column("family", "str", True, lambda entry, metric: entry["model"].get("family") or "unspecified"),
    Column("size (B)", "number", True, lambda entry, metric: entry["model"].get("parameters")),
    Column("protocol", "str", True, lambda entry, metric: entry["protocol"]),
    Column("source", "str", True, lambda entry, metric: entry["source"]),
    Column("subset", "str", False, lambda entry, metric: entry.get("subset", "full")),
    Column("encoder", "str", False, lambda entry, metric: entry.get("text_encoder") or ""),
    Column("seen avg", "number", True, cell("average", "seen")),
    Column("unseen avg", "number", True, cell("average", "unseen")),
    Column("mean", "number", True, cell("average", "mean")),
    Column("mean 95% CI", "str", True, _interval),
    Column("ties by", "str", True, None),  # how the rank was decided: paired tests, intervals, or both (ranking)
    # the evaluation conditions (condition_cells, computed once per entry by data.metric_frame)
    Column("settings", "str", True, None),
    *(Column(name, "str", False, None) for name in ("max new tokens", "decoding", "pixels", "precision", "backend")),
    *(Column(f"{dataset} {split}", "number", False, cell(dataset, split)) for dataset in DATASET_KEYS
      for split in SPLITS),
)
ALL_COLUMNS = [column.name for column in COLUMNS]
DEFAULT_COLUMNS = [column.name for column in COLUMNS if column.shown]
TYPES = {column.name: column.type for column in COLUMNS}
