"""TAPO's training rows, built from the k-shot sets `finebench prepare` writes.

For each dataset: the nearest-class table (saved as JSON, to inspect), the triplets (JSONL)
and one parquet of rows TAPOTrainer reads: the prompt (an open-world question of the
dataset + the release's thinking instruction), the anchor, positive and negative images,
the class (`solution`) and ids. The EasyR1 export of the same triplets is one flag away.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from finebench import atomic
from finebench.data.fewshot import fewshot_path
from finebench.data.registry import get_dataset
from finebench.data.store import PreparedStore
from finebench.errors import FinebenchError
from finebench.home import prepared_dir

from .triplets import Triplet, build_triplets, nearest_by_name, nearest_from_vectors, save_table, save_triplets

# The release's examples/format_prompt/cls_thinking.jinja, appended to the question after a blank line.
THINKING_INSTRUCTION = ("You first think through the reasoning process as an internal monologue, enclosed within "
                        "<think> </think> tags. Then, provide your final answer enclosed within <answer> </answer> "
                        "tags.")
# No-Thinking-RL (Li et al., 2025): the answer alone.
ANSWER_ONLY_INSTRUCTION = ("Do not explain or reason: output only your final answer, enclosed within "
                           "<answer> </answer> tags.")


@dataclass(frozen=True)
class TapoData:
    rows: Path  # the parquet TAPOTrainer reads
    triplets: Path
    tables: tuple[Path, ...]  # one nearest-class table per dataset
    count: int


def rl_prompt(question: str, thinking: bool = True) -> list[dict]:
    instruction = THINKING_INSTRUCTION if thinking else ANSWER_ONLY_INSTRUCTION
    return [{"role": "user", "content": f"{question.strip()}\n\n{instruction}"}]


def read_fewshot(dataset: str, shots: int, seed: int, home: Path | None = None) -> list[dict]:
    import pyarrow.parquet as pq

    path = fewshot_path(dataset, shots, seed, home)
    if not path.is_file():
        raise FinebenchError(f"no {shots}-shot set with seed {seed} for {dataset} at {path}",
                             f"run `finebench fewshot --datasets {dataset} --shots {shots} --seeds {seed}`")
    return pq.read_table(path, columns=["sample_id", "class_name", "image"]).to_pylist()


def seen_questions(dataset: str, home: Path | None = None) -> list[str]:
    """The open-world phrasings of the dataset's questions, as its seen split asks them."""
    import pyarrow.parquet as pq

    files = PreparedStore(prepared_dir(home)).data_files(dataset, "seen")
    return sorted({question for file in files for question in pq.read_table(file, columns=["question"])["question"]
                   .to_pylist()})


def tapo_rows(dataset: str, triplets: Sequence[Triplet], images: Mapping[str, dict], questions: Sequence[str],
              thinking: bool = True, seed: int = 0) -> list[dict]:
    """images: sample id -> {"bytes", "path"} image cell of the k-shot set."""
    rows = []
    for triplet in triplets:
        question = random.Random(f"{seed}:{triplet.anchor}").choice(sorted(questions))
        rows.append({"prompt": rl_prompt(question, thinking), "image": images[triplet.anchor],
                     "positive_image": images[triplet.positive], "negative_image": images[triplet.negative],
                     "solution": triplet.anchor_class, "negative_class": triplet.negative_class,
                     "anchor_id": triplet.anchor, "dataset": dataset})
    return rows


def row_features():
    import datasets

    text = datasets.Value("string")
    return datasets.Features({"prompt": datasets.List({"role": text, "content": text}), "image": datasets.Image(),
                              "positive_image": datasets.Image(), "negative_image": datasets.Image(),
                              "solution": text, "negative_class": text, "anchor_id": text, "dataset": text})


def write_rows(rows: Sequence[dict], path: Path) -> Path:
    import datasets

    with atomic.atomic_path(path) as tmp:
        datasets.Dataset.from_list(list(rows), features=row_features()).to_parquet(str(tmp))
    return path


def load_rows(path: Path):
    import datasets

    if not Path(path).is_file():
        raise FinebenchError(f"no TAPO training rows at {path}", "build them with `finebench train data`")
    return datasets.Dataset.from_parquet(str(path), features=row_features())


def check_prompts(rows, config) -> None:
    """The rows' instruction must be the one the config's format reward checks (think + answer, or answer only)."""
    thinking = THINKING_INSTRUCTION in rows[0]["prompt"][-1]["content"]
    if thinking != config.thinking:
        have, want = ("think-then-answer", "answer-only") if thinking else ("answer-only", "think-then-answer")
        raise FinebenchError(f"the training rows ask for {have} responses but {config.name} rewards {want} ones",
                             "build the rows again with `finebench train data`"
                             + (" --no-thinking" if not config.thinking else " (without --no-thinking)"))


def noise_rows(groups: int, size: int):
    """Rows of random-noise images, for benchmarks and tests that need TAPO rows but no real data."""
    import io

    import datasets
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)

    def noise(index: int) -> dict:
        buffer = io.BytesIO()
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(buffer, format="PNG")
        return {"bytes": buffer.getvalue(), "path": f"{index}.png"}

    rows = [{"prompt": rl_prompt("What kind of bird is this?"), "image": noise(3 * i),
             "positive_image": noise(3 * i + 1), "negative_image": noise(3 * i + 2), "solution": "Cardinal",
             "negative_class": "Summer Tanager", "anchor_id": f"a{i}", "dataset": "bird"} for i in range(groups)]
    return datasets.Dataset.from_list(rows, features=row_features())


def clip_centroids(encoder, samples: Sequence[dict]) -> dict:
    """Each class's mean CLIP image embedding over its k-shot images (the optional similarity)."""
    import io

    import numpy as np
    from PIL import Image

    by_class: dict[str, list] = {}
    for sample in samples:
        by_class.setdefault(sample["class_name"], []).append(Image.open(io.BytesIO(sample["image"]["bytes"])))
    return {name: np.mean(encoder.images(images), axis=0) for name, images in by_class.items()}


def nearest_table(samples: Sequence[dict], similarity: str):
    """similarity: "text:<encoder>" (class names, e.g. text:minilm) or "clip:<model>" (image centroids)."""
    kind, _, name = similarity.partition(":")
    if kind == "text":
        from finebench.scoring.encoders import load_encoder

        return nearest_by_name([sample["class_name"] for sample in samples], load_encoder(name or None))
    if kind == "clip":
        from finebench.baselines.clip import Encoder

        return nearest_from_vectors(clip_centroids(Encoder(name or "clip-l"), samples))
    raise FinebenchError(f"unknown similarity {similarity!r}", "use text:<encoder> (e.g. text:minilm) or clip:<model>")


def build_tapo_data(datasets_: Sequence[str], output: Path, shots: int = 4, seed: int = 1,
                    similarity: str = "text:", thinking: bool = True, easyr1: bool = False,
                    home: Path | None = None) -> TapoData:
    """Triplets, tables and training rows of the given datasets' k-shot sets, written under output.

    easyr1: also write easyr1_train.parquet, the same triplets in the release's format.
    """
    from .easyr1 import easyr1_rows, write_easyr1

    all_rows, all_triplets, tables, released = [], [], [], []
    for dataset in datasets_:
        get_dataset(dataset)  # an unknown name fails here, listing the known ones
        samples = read_fewshot(dataset, shots, seed, home)
        table = nearest_table(samples, similarity)
        tables.append(save_table(table, output / f"nearest_classes_{dataset}.json"))
        triplets = build_triplets([(s["sample_id"], s["class_name"]) for s in samples], table, seed)
        images = {sample["sample_id"]: sample["image"] for sample in samples}
        questions = seen_questions(dataset, home)
        all_rows += tapo_rows(dataset, triplets, images, questions, thinking, seed)
        all_triplets += triplets
        if easyr1:
            released += easyr1_rows(triplets, {key: cell["bytes"] for key, cell in images.items()}, questions, seed)
    save_triplets(all_triplets, output / "triplets.jsonl")
    write_rows(all_rows, output / "tapo_train.parquet")
    if easyr1:
        write_easyr1(released, output / "easyr1_train.parquet")
    atomic.write_json(output / "tapo_data.json", {"datasets": list(datasets_), "shots": shots, "seed": seed,
                                                  "similarity": similarity, "thinking": thinking,
                                                  "rows": len(all_rows)})
    return TapoData(output / "tapo_train.parquet", output / "triplets.jsonl", tuple(tables), len(all_rows))

