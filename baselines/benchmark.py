"""`finebench bench clip`: cached class embeddings against encoding each image's four candidate prompts.

Both paths use the same randomly initialised open_clip model in the same run and encode
the images in the same batches; only the text side differs: finebench embeds every class
of the dataset once (and caches it), the naive path embeds each line's candidates anew.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import numpy as np

from finebench.data.fixtures import render_jpeg
from finebench.data.manifests import load_manifests
from finebench.data.registry import get_dataset

from .clip import Encoder, choose, class_embeddings, template_set


def _lines(manifest_source: Path | None, count: int, seed: int = 0):
    from io import BytesIO

    from PIL import Image

    manifests = load_manifests(manifest_source, ["bird", "pet"])
    pool = [(dataset, line) for (dataset, _), manifest in manifests.items() for line in manifest.lines]
    chosen = random.Random(seed).sample(pool, count)
    images = [Image.open(BytesIO(render_jpeg(get_dataset(d).class_id(line.ground_truth), line.image_path,
                                             (224, 224)))).convert("RGB") for d, line in chosen]
    return chosen, images


def bench_clip(manifest_source: Path | None = None, count: int = 256, architecture: str = "ViT-B-32",
               templates_name: str = "photo", batch_size: int = 64) -> str:
    chosen, images = _lines(manifest_source, count)
    encoder = Encoder(f"{architecture}:random")
    templates = template_set(templates_name)
    image_vectors = np.concatenate([encoder.images(images[i:i + batch_size]) for i in range(0, count, batch_size)])

    start = time.perf_counter()
    tables = {d: class_embeddings(encoder, get_dataset(d).class_names, templates) for d in {d for d, _ in chosen}}
    ours_text = time.perf_counter() - start
    start = time.perf_counter()
    ours = []
    for (dataset, line), vector in zip(chosen, image_vectors):
        rows = [get_dataset(dataset).class_id(option) for option in line.options]
        ours.append(line.options[choose(vector, tables[dataset][rows])[0]])
    ours_choice = time.perf_counter() - start

    start = time.perf_counter()
    theirs = [line.options[choose(vector, class_embeddings(encoder, line.options, templates))[0]]
              for (_, line), vector in zip(chosen, image_vectors)]
    theirs_seconds = time.perf_counter() - start

    agree = sum(a == b for a, b in zip(ours, theirs))
    ours_seconds = ours_text + ours_choice
    classes = sum(len(t) for t in tables.values())
    all_classes = sum(len(get_dataset(d).class_names) for d in ("aircraft", "bird", "car", "dog", "flower", "pet"))
    return "\n".join([
        f"CLIP zero-shot benchmark: {count} lines of bird and pet, random {architecture}, templates {templates_name} "
        f"({len(templates)}), {os.cpu_count()} cores; image encoding (the same for both) not counted",
        f"  finebench (every class embedded once, {sum(len(t) for t in tables.values())} classes): "
        f"{ours_seconds:.2f} s",
        f"  per image (its four candidate prompts embedded each time): {theirs_seconds:.2f} s",
        f"  ratio: {theirs_seconds / ours_seconds:.1f}x; the same choice on {agree} of {count} lines "
        "(a second run reads the class embeddings from the disk cache and pays none of the first figure)",
        f"  prompts embedded: {classes * len(templates)} vs {count * 4 * len(templates)}; on the whole closed world "
        f"(35,566 lines, {all_classes} classes) {all_classes * len(templates)} vs {35566 * 4 * len(templates)}, "
        f"{35566 * 4 / all_classes:.0f}x fewer",
    ])
