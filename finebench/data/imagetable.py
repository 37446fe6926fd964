"""Parquet files with embedded images, readable as Hugging Face datasets.

Written with pyarrow directly (streaming, shard by shard) but with the ``huggingface``
schema metadata that ``datasets`` writes itself, so ``load_dataset("parquet", …)`` and
lmms-eval see a real ``datasets.Image`` column that decodes to PIL images.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from finebench import atomic

ROW_GROUP_SIZE = 100  # what `datasets` uses for image data: small groups stream well
SKIPPED_KEY = b"finebench_skipped"  # shard metadata: lines left out because their image was unreadable


def test_item_features():
    """Columns of a prepared (dataset, split): one row per manifest line."""
    import datasets

    text, number = datasets.Value("string"), datasets.Value("int32")
    return datasets.Features({
        "sample_id": text,  # "<dataset>/<file stem>", unique and stable
        "dataset": text,
        "split": text,  # seen | unseen
        "line": number,  # 0-based line in the official manifest
        "image": datasets.Image(),
        "image_path": text,  # as in the manifest
        "question": text,
        "ground_truth": text,
        "class_id": number,  # position in the archive's official class order
        "official_options": datasets.Sequence(text),  # official order: ground truth first
        "balanced_options": datasets.Sequence(text),  # hashed permutation (finebench.data.options)
        "balanced_answer_index": number,
        "super_category": text,  # the dataset's word: aircraft, bird, car, dog, flower, pet
        "official_super_category": text,  # the official scorer's guess from image_path
        "width": number,
        "height": number,
    })


def fewshot_features():
    """Columns of a k-shot training set."""
    import datasets

    text, number = datasets.Value("string"), datasets.Value("int32")
    return datasets.Features({
        "sample_id": text,
        "dataset": text,
        "class_name": text,
        "class_id": number,
        "image": datasets.Image(),
        "archive_path": text,  # path inside the official archive
        "archive_split": text,  # the archive's own split: train, val or trainval
        "width": number,
        "height": number,
    })


@dataclass(frozen=True)
class LoadedImage:
    data: bytes
    width: int
    height: int


class UnreadableImage(Exception):
    """An image file that exists but does not decode."""


def load_image(path: Path) -> LoadedImage:
    """Read an image's bytes and decode it once, so a corrupt file is caught here, not in a model."""
    from PIL import Image

    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            image.draft("RGB", (max(1, width // 8), max(1, height // 8)))  # decodes every block, faster
            image.load()
    except Exception as error:  # PIL raises many types for bad data; all mean "unreadable"
        raise UnreadableImage(f"{path}: {error}") from None
    return LoadedImage(data, width, height)


def image_cell(image: LoadedImage, name: str) -> dict:
    return {"bytes": image.data, "path": name}


def write_table(path: Path, rows: Sequence[dict], features, skipped: Sequence[str] = ()) -> None:
    """Write rows as one parquet file, atomically, with the datasets feature metadata."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features.arrow_schema
    metadata = dict(schema.metadata or {})
    metadata[SKIPPED_KEY] = json.dumps(list(skipped)).encode()
    table = pa.Table.from_pylist(list(rows), schema=schema.with_metadata(metadata))
    with atomic.atomic_path(path) as tmp:
        pq.write_table(table, tmp, row_group_size=ROW_GROUP_SIZE)


def skipped_lines(path: Path) -> list[str]:
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata.get(SKIPPED_KEY, b"[]"))


def row_count(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows
