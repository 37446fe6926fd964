"""Export TAPO triplets in the released EasyR1 format, for those who run the original code.

One row per anchor: `problem` ("<image>" + an open-world question of the dataset),
`answer` (the class), `images` (the anchor), `image_noisy` (the positive: same class) and
`image_aug` (the negative: the nearest other class), the last two resized to the anchor's
size as the release expects (verl/utils/dataset.py reads these three image columns).
"""

from __future__ import annotations

import io
import random
from pathlib import Path
from typing import Mapping, Sequence

from .triplets import Triplet


def _resized(data: bytes, size: tuple[int, int]) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        buffer = io.BytesIO()
        image.convert("RGB").resize(size).save(buffer, format="JPEG", quality=95)
        return buffer.getvalue()


def _size(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return image.size


def easyr1_rows(triplets: Sequence[Triplet], images: Mapping[str, bytes], questions: Sequence[str],
                seed: int = 0) -> list[dict]:
    """images: sample id -> encoded image of the k-shot set; questions: the dataset's open-world phrasings."""
    rows = []
    for triplet in triplets:
        anchor = images[triplet.anchor]
        size = _size(anchor)
        question = random.Random(f"{seed}:{triplet.anchor}").choice(sorted(questions))
        rows.append({
            "problem": f"<image>{question}",
            "answer": triplet.anchor_class,
            "images": [{"bytes": anchor, "path": f"{triplet.anchor}.jpg"}],
            "image_noisy": [{"bytes": _resized(images[triplet.positive], size), "path": f"{triplet.positive}.jpg"}],
            "image_aug": [{"bytes": _resized(images[triplet.negative], size), "path": f"{triplet.negative}.jpg"}],
            "negative_class": triplet.negative_class,
        })
    return rows


def write_easyr1(rows: Sequence[dict], path: Path) -> Path:
    """A parquet file with datasets' Image sequences, written atomically."""
    import datasets

    from finebench import atomic

    text, images = datasets.Value("string"), datasets.Sequence(datasets.Image())
    features = datasets.Features({"problem": text, "answer": text, "images": images, "image_noisy": images,
                                  "image_aug": images, "negative_class": text})
    with atomic.atomic_path(path) as tmp:
        datasets.Dataset.from_list(list(rows), features=features).to_parquet(str(tmp))
    return path
