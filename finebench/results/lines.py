"""Per-line scores that travel with an entry: its sidecar.

An entry's figures are means over lines; the sidecar keeps the lines, so that Details (per-class
accuracy, confusions), paired comparisons between entries and position-bias profiles can be made
wherever the entry is read, not only on the machine that holds the run. One Parquet file per
entry, one row per (metric, line):

    metric        the entry's metric names: closed_accuracy | open_inclusion | open_similarity, or
                  circular_accuracy | rotated_accuracy (one row per line, its four rotations joined)
    dataset, split, sample_id, ground_truth
    score         the line's score, 0 to 1 (NaN for a line that could not be scored)
    answer        the text the protocol's scorer read (a circular line: each rotation's, "1: … | 2: …")
    named         the one option the answer named (closed world), else null
    position      where the ground truth stood among the options shown (0-3, closed world; null for a
                  circular line, which showed it in every place)

The file is named by the sha256 of its bytes (lines/<sha256>.parquet beside the entry, in a folder
or a Hub dataset) and the entry records that address, so a sidecar can be shared, cached and
checked, and never silently stands in for another entry's lines.
"""

from __future__ import annotations

import hashlib
import io
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from finebench.errors import FinebenchError

FOLDER = "lines"
SCHEMA = pa.schema([("metric", pa.string()), ("dataset", pa.string()), ("split", pa.string()),
                    ("sample_id", pa.string()), ("ground_truth", pa.string()), ("score", pa.float64()),
                    ("answer", pa.string()), ("named", pa.string()), ("position", pa.int8())])


CLOSED_LINE_METRICS = ("closed_accuracy", "circular_accuracy")  # a protocol's closed world, right or wrong per line


def closed_metric(columns: dict) -> str | None:
    """The metric of the sidecar's closed-world lines: closed_accuracy, or circular_accuracy for a circular entry."""
    present = set(columns["metric"])
    return next((metric for metric in CLOSED_LINE_METRICS if metric in present), None)


def rows(metric: str, records: list[dict], closed: bool) -> list[dict]:
    """One row per line of one task, from its record (ingest.line_records)."""
    return [_row(metric, record, closed) for record in records]


def _row(metric: str, record: dict, closed: bool) -> dict:
    named, truth = record.get("named"), str(record["ground_truth"])
    return {"metric": metric, "dataset": record["dataset"], "split": record["split"],
            "sample_id": record["sample_id"], "ground_truth": truth, "score": float(record["score"]),
            "answer": None if record.get("answer") is None else str(record["answer"]),
            "named": named[0] if named and len(named) == 1 else None,
            # a record that states its position (a circular line's: null, it stood everywhere) is taken at its word
            "position": record["position"] if "position" in record else
            _position(record.get("options"), truth) if closed else None}


def _position(options: list | None, truth: str) -> int | None:
    """The ground truth's place among the options shown: finebench records its shuffled options; the official
    protocol records none because it always shows the ground truth first."""
    if not options:
        return 0
    return options.index(truth) if truth in options else None


def encode(table_rows: list[dict]) -> bytes:
    """The sidecar's bytes: rows in a fixed order, no timestamps, so the same lines always make the same file."""
    ordered = sorted(table_rows, key=lambda row: (row["metric"], row["dataset"], row["split"], row["sample_id"]))
    table = pa.Table.from_pylist(ordered, schema=SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", write_statistics=False, store_schema=False)
    return buffer.getvalue()


def reference(data: bytes) -> dict:
    """What the entry records: the sidecar's address (its sha256), its path beside the entry, its row count."""
    digest = hashlib.sha256(data).hexdigest()
    return {"sha256": digest, "file": f"{FOLDER}/{digest}.parquet",
            "rows": pq.read_metadata(io.BytesIO(data)).num_rows}


def decode(data: bytes, expected: dict, where: str) -> dict[str, np.ndarray]:
    """The sidecar's columns, after checking its bytes are the ones the entry names."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected["sha256"]:
        raise FinebenchError(f"{where} is not the entry's per-line file: its sha256 is {digest[:12]}…, the entry "
                             f"names {expected['sha256'][:12]}…", "publish the entry again with its own lines")
    table = pq.read_table(io.BytesIO(data))
    return {name: table.column(name).to_numpy(zero_copy_only=False) for name in table.column_names}


def load(entry: dict, read: Callable[[str], bytes], where: Callable[[str], str]) -> dict[str, np.ndarray] | None:
    """The entry's per-line columns, read beside it through `read` (a folder's or a Hub dataset's); None for an
    entry without them (the paper's rows, entries ingested before finebench recorded lines)."""
    reference_ = entry.get("lines")
    if not reference_:
        return None
    path = reference_["file"]
    try:
        data = read(path)
    except Exception as error:  # a missing file, an unreachable Hub: said with where it was looked for
        raise FinebenchError(f"the per-line scores of {entry['model']['name']} ({where(path)}) cannot be read: "
                             f"{type(error).__name__}: {str(error)[:200]}",
                             "copy or publish the entry together with its lines/ folder") from None
    return decode(data, reference_, where(path))
