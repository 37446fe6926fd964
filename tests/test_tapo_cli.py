"""From the k-shot sets to a TAPO checkpoint on the lite benchmark, through the command line."""

import json
import shutil

import datasets
import pytest
from safetensors.torch import load_file

from finebench.cli import main
from finebench.harness.runs import read_run
from finebench.harness.tinymodel import build_tiny_qwen2_5_vl
from finebench.results import entries


@pytest.mark.slow(seconds=75)
def test_data_then_two_tapo_steps_then_evaluate_the_checkpoint(prepared_home, tmp_path, monkeypatch):
    monkeypatch.setenv("FINEBENCH_HOME", str(prepared_home))
    data = tmp_path / "data"
    assert main(["train", "data", "--datasets", "bird", "--similarity", "text:minilm", "--easyr1",
                 "--output", str(data)]) == 0
    rows = datasets.Dataset.from_parquet(str(data / "tapo_train.parquet"))
    table = json.loads((data / "nearest_classes_bird.json").read_text())
    first = rows[0]
    assert len(rows) == 4 * len(table) and first["negative_class"] == table[first["solution"]]["nearest"]
    assert first["negative_class"] != first["solution"] and "<think>" in first["prompt"][0]["content"]
    assert len(datasets.Dataset.from_parquet(str(data / "easyr1_train.parquet"))) == len(rows)

    base = build_tiny_qwen2_5_vl(tmp_path / "base")
    output = tmp_path / "tapo"
    assert main(["train", "tapo", "--model", str(base), "--data", str(data), "--output", str(output),
                 "--rollouts", "2:2", "--batch-size", "4", "--grad-accum", "1", "--steps-per-generation", "1",
                 "--max-steps", "2", "--max-completion-length", "8",
                 "--pixels", "3136:12544", "--max-resampling-rounds", "1", "--save-steps", "1", "--cpu"]) == 0
    final = output / "final"
    before, after = load_file(base / "model.safetensors"), load_file(final / "model.safetensors")
    assert sum(not before[name].equal(after[name]) for name in before) > len(before) // 2
    card = (final / "README.md").read_text()
    assert "TAPO" in card and "2 anchor + 2 positive rollouts" in card and '"seed": 42' in card
    assert (output / "trainer" / "checkpoint-2").is_dir() and not (final / "training_args.bin").exists()
    # a rerun with a later stop resumes from checkpoint-2 instead of starting again (which would write checkpoint-1)
    shutil.rmtree(output / "trainer" / "checkpoint-1")
    assert main(["train", "tapo", "--model", str(base), "--data", str(data), "--output", str(output),
                 "--rollouts", "2:2", "--batch-size", "4", "--grad-accum", "1", "--steps-per-generation", "1",
                 "--max-steps", "3", "--max-completion-length", "8", "--pixels", "3136:12544",
                 "--max-resampling-rounds", "1", "--save-steps", "1", "--cpu"]) == 0
    state = json.loads((output / "trainer" / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and len([entry for entry in state["log_history"] if "loss" in entry]) == 3
    assert not (output / "trainer" / "checkpoint-1").exists()
    assert (output / "training_curves.png").read_bytes()[:4] == b"\x89PNG"
    (output / "training_curves.png").unlink()
    assert main(["train", "curves", str(output)]) == 0  # from the newest checkpoint's history
    assert (output / "training_curves.png").read_bytes()[:4] == b"\x89PNG"

    # from training to the leaderboard: submit the checkpoint, the worker runs the whole lite benchmark
    # through finebench eval and publishes the entry
    for key, value in {"FINEBENCH_LOCAL_MODEL_ROOTS": tmp_path, "FINEBENCH_QUEUE": tmp_path / "queue",
                       "FINEBENCH_LEADERBOARD_RESULTS": tmp_path / "results", "FINEBENCH_RUNS": tmp_path / "runs",
                       "FINEBENCH_ENCODER": "minilm", "HF_HUB_OFFLINE": "1"}.items():
        monkeypatch.setenv(key, str(value))
    assert main(["submit", str(final), "--contact", "ci@example.org"]) == 0  # bfloat16: what the hf backend runs
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as the demo runs its tiny model: the suite's other worker has a core
    assert main(["worker", "--once", "--lite", "--model-args",
                 "device=cpu,device_map=cpu,min_pixels=3136,max_pixels=12544",
                 "--gen-kwargs", "max_new_tokens=8", "--batch-size", "32"]) == 0
    [published] = list((tmp_path / "results").rglob("*.json"))
    entry = entries.read(published)
    assert entry["source"] == "submitted" and entry["subset"] == "lite" and str(final) in json.dumps(entry)
    [run] = [folder for folder in (tmp_path / "runs").iterdir() if folder.is_dir()]
    samples = read_run(next(path.parent for path in run.rglob("*.jsonl"))).samples
    assert sum(len(lines) for lines in samples.values()) == 2 * 600  # every lite line, closed and open
    assert "--batch_size 32" in next(run.rglob("log.txt")).read_text()  # the operator's batch size reached lmms-eval


def test_negatives_by_clip_image_centroids(prepared_home, tmp_path):
    import io

    import numpy as np
    import pytest
    from PIL import Image
    from test_baselines import TINY_CLIP

    from finebench.baselines.clip import Encoder
    from finebench.trainers.tapo_data import nearest_table, read_fewshot

    config = tmp_path / "finebench-tiny-clip.json"
    config.write_text(json.dumps(TINY_CLIP))
    samples = read_fewshot("pet", 4, 1, prepared_home)
    table = nearest_table(samples, f"clip:{config}:random")
    classes = {sample["class_name"] for sample in samples}
    assert set(table) == classes
    # recomputed by hand: each class's mean image embedding, its most similar other class by cosine
    encoder = Encoder(f"{config}:random")
    names = sorted(classes)
    centroids = np.stack([encoder.images([Image.open(io.BytesIO(s["image"]["bytes"])) for s in samples
                                          if s["class_name"] == name]).mean(axis=0) for name in names])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    cosines = centroids @ centroids.T
    np.fill_diagonal(cosines, -np.inf)
    for name, row in zip(names, cosines):
        assert table[name].nearest == names[int(np.argmax(row))]
        assert table[name].similarity == pytest.approx(float(row.max()), abs=1e-5)
