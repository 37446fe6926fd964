"""`finebench bench scoring`: open-world scoring of all 35,566 lines (or some datasets' lines), finebench's
cached batches against the official scorer's per-line encoder calls, on the same encoder in one run."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from finebench.data.manifests import load_manifests


def _open_world_lines(manifest_source: Path | None, datasets: Sequence[str] | None = None,
                      seed: int = 0) -> tuple[list[dict], list[str]]:
    """Every open-world line (of the datasets, default all) as a scoring doc, with a plausible model output for each.

    Half the outputs name the right class, a third another option, the rest are free
    text unique to the line, so the cache helps only as much as real answers repeat.
    """
    import random

    from finebench.data.classnames import official_super_category
    from finebench.data.ids import sample_id
    from finebench.data.registry import get_dataset

    rng = random.Random(seed)
    docs, outputs = [], []
    for (dataset, split), manifest in load_manifests(manifest_source).items():
        if datasets and dataset not in datasets:
            continue
        for line in manifest.lines:
            docs.append({"sample_id": sample_id(dataset, line.image_path), "dataset": dataset, "split": split,
                         "ground_truth": line.ground_truth, "super_category": get_dataset(dataset).super_category,
                         "official_super_category": official_super_category(line.image_path)})
            draw = rng.random()
            if draw < 0.5:
                answer = line.ground_truth
            elif draw < 0.83:
                answer = rng.choice(line.options[1:])
            else:
                answer = f"probably a {rng.choice(line.options)} seen from the side, sample {len(docs)}"
            outputs.append(f"<think>Looking at the shape and colours.</think> <answer>{answer}</answer>")
    return docs, outputs


def _official_similarities(encoder, doc: dict, output: str) -> tuple[float, float]:
    """The official scorer's per-line computation: four batch-1 encoder calls, nothing cached."""
    from finebench.scoring.metrics import official_open_text, relative_similarity
    from finebench.scoring.parsing import official_answer

    def embed(text: str):
        return encoder.embed_uncached([text])[0]

    text, truth = official_open_text(official_answer(output), output), doc["ground_truth"]
    similarity = float(embed(text) @ embed(truth))
    floor = float(embed(doc["official_super_category"]) @ embed(truth))
    return similarity, relative_similarity(similarity, floor)


def bench_scoring(manifest_source: Path | None = None, encoder_name: str = "minilm", official_lines: int = 2000,
                  datasets: Sequence[str] | None = None) -> str:
    """Time finebench's cached, batched open-world scoring against the official scorer's per-line approach."""
    import random

    from finebench.scoring.encoders import create_encoder
    from finebench.scoring.scoring import score_open_batch

    docs, outputs = _open_world_lines(manifest_source, datasets)
    if not docs:
        from finebench.data.registry import DATASET_KEYS
        from finebench.errors import FinebenchError

        raise FinebenchError(f"no manifest lines of {', '.join(datasets or [])}",
                             f"name some of {', '.join(DATASET_KEYS)}")
    fresh = create_encoder(encoder_name)  # not load_encoder's: an empty cache, so class names are encoded in the timing
    start = time.perf_counter()
    records = score_open_batch(docs, outputs, fresh)
    ours = time.perf_counter() - start
    sample = random.Random(1).sample(range(len(docs)), min(official_lines, len(docs)))
    start = time.perf_counter()
    official = [_official_similarities(fresh, docs[i], outputs[i]) for i in sample]
    theirs_per_line = (time.perf_counter() - start) / len(sample)
    agree = max(abs(records[i]["official_similarity"]["score"] - score) for i, (_, score) in zip(sample, official))
    ratio = theirs_per_line * len(docs) / ours
    return "\n".join([
        f"open-world scoring benchmark: {len(docs)} lines ({', '.join(datasets or ['all datasets'])}), "
        f"encoder {encoder_name}, {os.cpu_count()} cores",
        f"  finebench (each distinct string once, batches of 256): {ours:.1f} s for all lines "
        f"({fresh.cached_strings} distinct strings encoded)",
        f"  official (4 batch-1 encoder calls per line): {theirs_per_line * 1000:.2f} ms per line, timed on "
        f"{len(sample)} lines -> {theirs_per_line * len(docs):.0f} s for all lines",
        f"  speed-up: {ratio:.0f}x (target: at least 20x); largest difference between the two official "
        f"similarities: {agree:.2e}",
    ])
