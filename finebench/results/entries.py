"""Result entries: one JSON per (model, revision, protocol, subset, source), versioned and validated.

    {"schema_version": 1, "model": {…}, "protocol": "finebench" | "official" | "circular",
     "subset": "full" | "lite", "text_encoder": …, "source": "reported" | "reproduced" | "submitted",
     "scores": {<metric>: {<dataset>: {"seen": CELL, "unseen": CELL},
                           "average": {"seen": CELL, "unseen": CELL, "mean": CELL}}},
     "partial": null | why the entry covers fewer lines than its subset (a --limit run, or one
                admitted with `ingest --allow-partial`),
     "provenance": {…},
     "lines": null | {"sha256": …, "file": "lines/<sha256>.parquet", "rows": …},  (finebench.results.lines)
     "positions": null | closed-world accuracy with the ground truth at options 1-4 (finebench protocol,
                  and the circular one over all its rotations)}

The circular protocol's entries hold circular_accuracy and rotated_accuracy, the other protocols'
closed_accuracy, open_inclusion and open_similarity.

A CELL is {"value": percent, "n": lines, "ci95": [low, high]}; the averages are the
paper's: the mean over the six datasets, and the mean of the seen and unseen averages.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from enum import StrEnum
from pathlib import Path
from typing import Callable

from finebench import atomic
from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.errors import FinebenchError
from finebench.scoring.protocols import Protocol

SCHEMA_VERSION = 1
METRICS = ("closed_accuracy", "open_inclusion", "open_similarity", "circular_accuracy", "rotated_accuracy")
METRIC_TITLES = {"closed_accuracy": "closed-world accuracy", "open_inclusion": "open-world text inclusion",
                 "open_similarity": "open-world relative similarity",
                 "circular_accuracy": "circular accuracy (all four rotations right)",
                 "rotated_accuracy": "accuracy over all four rotations"}
CIRCULAR_METRICS = ("circular_accuracy", "rotated_accuracy")


def protocol_metrics(protocol: str) -> tuple[str, ...]:
    """The metrics an entry of the protocol may hold: the circular protocol's, or the closed and open worlds'."""
    return CIRCULAR_METRICS if protocol == Protocol.CIRCULAR else tuple(m for m in METRICS if m not in CIRCULAR_METRICS)


FAMILIES = ("CLIP-like", "general MLLM", "reasoning MLLM", "Fine-R1", "reference responder")
SUBSETS = ("full", "lite")


class Source(StrEnum):
    """Where an entry's numbers come from."""

    REPORTED = "reported"  # transcribed from the paper
    REPRODUCED = "reproduced"  # a run someone made and ingested
    SUBMITTED = "submitted"  # a leaderboard worker's run of a submission

_CELL = {
    "type": "object",
    "required": ["value"],
    "properties": {
        "value": {"type": "number"},
        "n": {"type": ["integer", "null"], "minimum": 0},
        "ci95": {"type": ["array", "null"], "items": {"type": "number"}, "minItems": 2, "maxItems": 2},
    },
}
# Shared parts are definitions, referred to: fastjsonschema then generates one function per part instead of the
# same code inlined for every metric x dataset x split (860 KB of Python to compile at each start, 0.13 s).
_DEFINITIONS = {
    "cell": _CELL,
    "splits": {"type": "object", "properties": {split: {"$ref": "#/definitions/cell"} for split in SPLITS},
               "additionalProperties": False},
    "metric": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            **{dataset: {"$ref": "#/definitions/splits"} for dataset in DATASET_KEYS},
            "average": {"type": "object", "properties": {part: {"$ref": "#/definitions/cell"}
                                                         for part in ("seen", "unseen", "mean")}},
        },
    },
}
SCHEMA = {
    "type": "object",
    "definitions": _DEFINITIONS,
    "required": ["schema_version", "model", "protocol", "source", "scores", "provenance"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "model": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "id": {"type": ["string", "null"]},
                "revision": {"type": ["string", "null"]},
                "backend": {"type": ["string", "null"]},
                "family": {"enum": [*FAMILIES, None]},
                "parameters": {"type": ["number", "null"]},
            },
        },
        "protocol": {"enum": [protocol.value for protocol in Protocol]},
        "subset": {"enum": list(SUBSETS)},
        "partial": {"type": ["string", "null"]},
        "text_encoder": {"type": ["string", "null"]},
        "source": {"enum": [source.value for source in Source]},
        "scores": {
            "type": "object",
            "additionalProperties": False,
            "properties": {metric: {"$ref": "#/definitions/metric"} for metric in METRICS},
        },
        "provenance": {"type": "object"},
        "positions": {  # closed-world accuracy (%) with the ground truth at options 1-4 (finebench, circular)
            "type": ["array", "null"], "minItems": 4, "maxItems": 4, "items": {"type": ["number", "null"]},
        },
        "lines": {  # the per-line sidecar beside the entry (finebench.results.lines); none for the paper's rows
            "type": ["object", "null"],
            "required": ["sha256", "file", "rows"],
            "additionalProperties": False,
            "properties": {"sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                           "file": {"type": "string", "pattern": "^lines/[0-9a-f]{64}[.]parquet$"},
                           "rows": {"type": "integer", "minimum": 0}},
        },
    },
}


@functools.lru_cache(maxsize=1)
def _validator():
    import fastjsonschema

    return fastjsonschema.compile(SCHEMA)  # compiled to Python once: 1,000 entries validate in milliseconds


def validate(entry: dict, where: str = "result entry") -> dict:
    import fastjsonschema

    try:
        _validator()(entry)
    except fastjsonschema.JsonSchemaValueException as error:
        path = "/".join(map(str, error.path[1:])) or "(top level)"
        raise FinebenchError(f"{where} is not a valid result entry: {path}: {error.message}",
                             f"entries follow schema version {SCHEMA_VERSION} (finebench.results.entries)") from None
    foreign = sorted(set(entry["scores"]) - set(protocol_metrics(entry["protocol"])))
    if foreign:
        raise FinebenchError(f"{where} is not a valid result entry: a {entry['protocol']} entry cannot hold "
                             f"{', '.join(foreign)}", "each protocol's entry holds its own metrics: "
                             + "; ".join(f"{p}: {', '.join(protocol_metrics(p))}" for p in Protocol))
    numbers = [*_cell_numbers(entry["scores"]),
               *((f"positions/{place}", value) for place, value in enumerate(entry.get("positions") or [])
                 if value is not None)]
    for path, number in numbers:
        if not (math.isfinite(number) and 0.0 <= number <= 100.0):  # the schema cannot say "finite"
            raise FinebenchError(f"{where} is not a valid result entry: {path} is {number!r}, not a percentage "
                                 "from 0 to 100", "entries hold percentages of lines scored")
    return entry


def _cell_numbers(scores: dict):
    """(path, number) of every value and interval bound in the scores."""
    for metric, cells in scores.items():
        for dataset, splits in cells.items():
            for split, cell in splits.items():
                yield f"scores/{metric}/{dataset}/{split}/value", float(cell["value"])
                for bound in cell.get("ci95") or ():
                    yield f"scores/{metric}/{dataset}/{split}/ci95", float(bound)


def dumps(entry: dict, where: str = "result entry") -> bytes:
    """The entry's file contents, validated: for writers that do not write to a local path (a Hub dataset)."""
    validate(entry, where)
    return (json.dumps(entry, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def write(entry: dict, path: Path) -> Path:
    atomic.write_bytes(path, dumps(entry, str(path)))
    return path


def read(path: Path) -> dict:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise FinebenchError(f"cannot read result entry {path} ({error})", "check the file") from None
    return loads(data, str(path))


def loads(data: bytes, where: str, parse: Callable[[bytes], object] = json.loads) -> dict:
    """An entry from a file's contents, validated: for readers of storage that is not a local path (a Hub dataset).
    `parse` reads JSON from bytes (the leaderboard passes orjson's, three times faster over 1,000 entries)."""
    try:
        entry = parse(data)
    except ValueError as error:  # not UTF-8, or not JSON
        raise FinebenchError(f"cannot read result entry {where} ({error})", "check the file") from None
    return validate(entry, where)


def _file_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-." else "_" for c in text).strip("_")


def file_name(entry: dict) -> str:
    """<model>[@<revision>]__<protocol>[__lite]__<source>__<hash>.json: a readable part, and the hash of
    (model, revision, protocol, subset, source) as given, so that two entries share a file only when they are
    the same model's same kind of result (the readable part alone folds '/', '_' and '@' together)."""
    model = _file_safe(entry["model"]["name"])
    revision = entry["model"].get("revision") or "main"
    if revision != "main":
        model += f"@{_file_safe(revision)}"  # "@" never survives _file_safe, so it cannot come from the name
    subset = entry.get("subset", "full")
    identity = json.dumps([entry["model"]["name"], revision, str(entry["protocol"]), subset, str(entry["source"])])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:12]
    kind = f"{entry['protocol']}{'' if subset == 'full' else f'__{subset}'}__{entry['source']}"
    return f"{model[:80]}__{kind}__{digest}.json"


def legacy_file_name(entry: dict) -> str:
    """The file name finebench 0.1 gave the entry (<model>[@<revision>]__<protocol>[__lite].json), which ingest
    replaces by file_name's when it writes the same entry again."""
    model = _file_safe(entry["model"]["name"])
    revision = entry["model"].get("revision")
    if revision and revision != "main":
        model += f"@{_file_safe(revision)}"
    subset = "" if entry.get("subset", "full") == "full" else f"__{entry['subset']}"
    return f"{model}__{entry['protocol']}{subset}.json"


def same_result(one: dict, other: dict) -> bool:
    """Whether two entries are the same model's same kind of result (what file_name's hash covers)."""
    def identity(entry):
        return (entry["model"]["name"], entry["model"].get("revision") or "main", str(entry["protocol"]),
                entry.get("subset", "full"), str(entry["source"]))
    return identity(one) == identity(other)


def format_table(entry: dict) -> str:
    """The entry in the paper's layout: per dataset seen / unseen, then the averages."""
    header = ["metric"] + [f"{d[:4]} {s[0]}" for d in DATASET_KEYS for s in ("seen", "unseen")] + \
             ["avg seen", "avg unseen", "mean"]
    rows = [header]
    for metric, cells in entry["scores"].items():
        row = [metric]
        for dataset in DATASET_KEYS:
            row += [_fmt(cells.get(dataset, {}).get(split)) for split in SPLITS]
        average = cells.get("average", {})
        row += [_fmt(average.get("seen")), _fmt(average.get("unseen")), _fmt(average.get("mean"))]
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.rjust(width) if i else cell.ljust(width) for i, (cell, width) in
                       enumerate(zip(row, widths))) for row in rows]
    title = f"{entry['model']['name']} · protocol {entry['protocol']} · {entry.get('subset', 'full')}"
    if entry.get("partial"):
        title += f" · PARTIAL ({entry['partial']})"
    encoder = entry.get("text_encoder")
    return "\n".join([title + (f" · encoder {encoder}" if encoder else ""), *lines])


def _fmt(cell: dict | None) -> str:
    return "-" if not cell else f"{cell['value']:.1f}"


def format_comparison(all_entries: list[dict]) -> str:
    """One line per entry: the mean of the seen and unseen averages of each metric."""
    header = ["model", "protocol", *METRICS]
    rows = [header]
    for entry in all_entries:
        means = [_fmt(entry["scores"].get(metric, {}).get("average", {}).get("mean")) for metric in METRICS]
        rows.append([entry["model"]["name"], entry["protocol"], *means])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    subset = {entry.get("subset", "full") for entry in all_entries}
    lines = ["  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in rows]
    return "\n".join([f"mean of seen and unseen averages, percent ({', '.join(sorted(subset))} subset)", *lines])
