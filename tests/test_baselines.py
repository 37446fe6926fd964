"""The CLIP-like baseline through lmms-eval, the choice rules, the MLLM registry, and the CoT / ICL prompts."""

import ast
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from finebench.baselines.clip import choose, class_embeddings
from finebench.baselines.registry import BASELINES, get_baseline
from finebench.errors import FinebenchError
from finebench.harness.runs import read_run

TINY_CLIP = {"embed_dim": 32, "vision_cfg": {"image_size": 64, "layers": 2, "width": 64, "patch_size": 16},
             "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}


def test_choice_rule_on_hand_made_embeddings():
    image = np.array([1.0, 0.0, 0.0])
    candidates = np.array([[0.0, 1.0, 0.0], [0.8, 0.6, 0.0], [0.6, 0.0, 0.8], [-1.0, 0.0, 0.0]])
    index, cosines = choose(image, candidates)
    assert index == 1 and np.allclose(cosines, [0.0, 0.8, 0.6, -1.0])


def test_the_cosine_rule_is_the_only_rule():
    from finebench.baselines.clip_model import FinebenchCLIP

    with pytest.raises(ValueError, match="rule must be cosine"):
        FinebenchCLIP(name="never-loaded", rule="foci")  # refused before any model is loaded


def test_template_ensemble_is_the_normalised_mean():
    class Fake:
        def texts(self, texts):
            vectors = np.array([[len(t), t.count("photo"), 1.0] for t in texts], dtype=float)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

    templates = ("a photo of a {}.", "art of the {}.")
    matrix = class_embeddings(Fake(), ["rose", "lotus"], templates)
    prompts = Fake().texts(["a photo of a rose.", "art of the rose."])
    mean = prompts.mean(axis=0)
    assert np.allclose(matrix[0], mean / np.linalg.norm(mean))
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0)


@pytest.mark.slow(seconds=60)
def test_clip_baseline_end_to_end_with_a_random_open_clip_model(prepared_home, tmp_path):
    config = tmp_path / "finebench-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    environment = {**os.environ, "FINEBENCH_HOME": str(prepared_home), "FINEBENCH_ENCODER": "minilm"}

    def run(output):
        command = [sys.executable, "-m", "finebench", "eval", "--model", "finebench_clip", "--model_args",
                   f"name={config}:random,templates=imagenet80", "--batch_size", "16",
                   "--tasks", "finegrained-lite_pet_seen_closed,finegrained-lite_pet_unseen_open",
                   "--log_samples", "--output_path", str(output)]
        result = subprocess.run(command, capture_output=True, text=True, env=environment)
        assert result.returncode == 0, result.stderr[-2000:]
        return read_run(output)

    first = run(tmp_path / "first")
    cache = sorted((prepared_home / "cache" / "clip").glob("pet-imagenet80-*.npy"))
    assert len(cache) == 1 and np.load(cache[0]).shape == (37, 32)
    stamp = cache[0].stat().st_mtime_ns
    second = run(tmp_path / "second")
    assert cache[0].stat().st_mtime_ns == stamp  # the class embeddings came from the disk cache
    for run_ in (first, second):
        samples = run_.samples["finegrained-lite_pet_seen_closed"]
        assert len(samples) == 50
        answer = samples[0]["finebench_accuracy"]
        assert answer["named"] == [answer["answer"]] and answer["answer"] in answer["options"]
        # each line is scored right exactly when the chosen option is the ground truth
        scored = [s["finebench_accuracy"] for s in samples]
        assert all(line["score"] == float(line["answer"] == line["ground_truth"]) for line in scored)
        open_answer = run_.samples["finegrained-lite_pet_unseen_open"][0]["finebench_inclusion"]["answer"]
        from finebench.data.registry import get_dataset

        assert open_answer in get_dataset("pet").class_names  # the open world: argmax over all 37 breeds
    assert [s["filtered_resps"] for s in first.samples["finegrained-lite_pet_seen_closed"]] == \
        [s["filtered_resps"] for s in second.samples["finegrained-lite_pet_seen_closed"]]


def _init_parameters(class_path: str) -> tuple[set[str], bool]:
    """The __init__ parameters of an lmms-eval model class, read from its source without importing it."""
    module_name, class_name = class_path.rsplit(".", 1)
    source = open(importlib.util.find_spec(module_name).origin).read()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == "__init__":
                    names = {a.arg for a in item.args.args + item.args.kwonlyargs}
                    return names, item.args.kwarg is not None
    raise AssertionError(f"no __init__ for {class_path}")


@pytest.mark.parametrize("name", list(BASELINES))
def test_every_baseline_names_a_backend_lmms_eval_accepts(name):
    from lmms_eval.models import MODEL_REGISTRY_V2

    baseline = get_baseline(name)
    for backend in baseline.backends:
        arguments = baseline.lmms_eval_arguments(backend)
        model, model_args = arguments[1], dict(part.split("=", 1) for part in arguments[3].split(","))
        manifest = MODEL_REGISTRY_V2.get_manifest(model)  # raises for a model lmms-eval does not know
        path = manifest.simple_class_path if backend != "vllm" else (manifest.chat_class_path or
                                                                      manifest.simple_class_path)
        accepted, open_ended = _init_parameters(path)
        unknown = set(model_args) - accepted
        assert not unknown or open_ended, (name, backend, unknown)
        assert model_args.get("pretrained", model_args.get("model", model_args.get("name")))
    with pytest.raises(FinebenchError, match="no 'hf' backend"):
        get_baseline("Idefics3-8B").lmms_eval_arguments("hf")


def test_icl_prompt_holds_seen_class_demonstrations_only(prepared_home, manifests, monkeypatch):
    import pyarrow.parquet as pq

    monkeypatch.setenv("FINEBENCH_HOME", str(prepared_home))
    from finebench.data.store import PreparedStore
    from finebench.harness import taskhooks

    taskhooks.demonstrations.cache_clear()
    files = PreparedStore(prepared_home / "prepared").data_files("pet", "unseen", lite=True)
    docs = pq.read_table(files[0]).to_pylist()
    seen_classes = manifests["pet", "seen"].classes
    checked = 0
    for doc in docs:
        import io

        from PIL import Image

        doc["image"] = Image.open(io.BytesIO(doc["image"]["bytes"]))
        names = taskhooks.demonstration_classes(doc)
        assert set(names) <= seen_classes and doc["ground_truth"] not in names  # unseen truth: no example
        assert names == [o for o in doc["balanced_options"] if o in seen_classes]
        visuals = taskhooks.icl_doc_to_visual(doc)
        assert len(visuals) == len(names) + 1
        text = taskhooks.icl_closed_doc_to_text(doc)
        for number, name in enumerate(names, start=1):
            assert f"Image {number}: an example of {name}." in text
        assert f"Image {len(names) + 1} is the image in question. Given the question:" in text
        checked += bool(names)
    assert checked > 10
    fewshot = pq.read_table(prepared_home / "fewshot" / "pet_4shot_seed1.parquet").to_pylist()
    assert {row["class_name"] for row in fewshot} == seen_classes


def test_cot_prompt_appends_step_by_step():
    from finebench.harness.taskhooks import cot_closed_doc_to_text

    doc = {"question": "Which pet?", "balanced_options": ["Pug", "Boxer", "Beagle", "Havanese"]}
    assert cot_closed_doc_to_text(doc).endswith("<answer>choice</answer>. Let's think step by step.")


def test_clip_benchmark_prints_both_paths(manifest_dir, tmp_path):
    from finebench.baselines.benchmark import bench_clip

    config = tmp_path / "finebench-tiny-clip.json"  # the paths and figures, not ViT-B-32's weights (30 s of init)
    config.write_text(json.dumps(TINY_CLIP))
    report = bench_clip(manifest_dir, count=8, architecture=str(config))
    assert "finebench (every class embedded once" in report and "ratio:" in report
    assert "the same choice on 8 of 8 lines" in report


def test_hugging_face_clip_checkpoints_load_by_name(tmp_path):
    """The transformers path (hf:<id or folder>), on a tiny random CLIPModel with its processor."""
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    from finebench.baselines.clip import Encoder
    from finebench.harness.tinymodel import _tokenizer

    tokenizer = _tokenizer()
    tokenizer.model_max_length = 64
    ids = {"eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id,
           "bos_token_id": tokenizer.pad_token_id}
    config = CLIPConfig(text_config={"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32,
                                     "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64,
                                     **ids},
                        vision_config={"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1,
                                       "num_attention_heads": 2, "image_size": 32, "patch_size": 16},
                        projection_dim=8)
    CLIPModel(config).save_pretrained(tmp_path)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    encoder = Encoder(f"hf:{tmp_path}", device="cpu")
    images = encoder.images([Image.new("RGB", (40, 30), "red"), Image.new("RGB", (30, 40), "blue")])
    texts = encoder.texts(["a photo of a rose.", "a photo of a lotus."])
    assert images.shape == (2, 8) and texts.shape == (2, 8)
    assert np.allclose(np.linalg.norm(images, axis=1), 1.0, atol=1e-5)
    index, cosines = choose(images[0], texts)
    assert np.allclose(cosines, texts @ images[0]) and index == int(np.argmax(texts @ images[0]))
