"""Like with like: each entry's evaluation conditions read from its provenance, the benchmark's reference held
against them, and rows or comparisons across different conditions kept apart unless asked."""

import json
import random
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml

from finebench.baselines.registry import QWEN_PIXELS
from finebench.leaderboard.app import Leaderboard
from finebench.leaderboard.benchmark import synthetic_entry
from finebench.leaderboard.settings import Settings
from finebench.results import compare, conditions, entries, lines
from finebench.scoring.protocols import Protocol

REPO = Path(__file__).resolve().parents[1]
REFERENCE_ARGS = "pretrained=/models/m,min_pixels=3136,max_pixels=12845056"
TEMPLATE_GENERATION = {"max_new_tokens": 2048, "temperature": 0, "top_p": 1.0, "num_beams": 1, "do_sample": False}


def provenance(override: str | None = None, model_args: str = REFERENCE_ARGS) -> dict:
    return {"generation": dict(TEMPLATE_GENERATION), "cli_generation_override": override, "model_args": model_args}


def test_the_reference_is_what_the_tasks_and_the_baselines_use():
    template = yaml.safe_load((REPO / "tasks" / "_default_template_yaml").read_text().replace("!function", ""))
    generation = template["generation_kwargs"]
    held = conditions.of({"model": {"backend": "qwen2_5_vl"}, "provenance": provenance()})
    assert held == replace(conditions.REFERENCE, backend="qwen2_5_vl") and conditions.off_reference(held) == []
    assert generation["max_new_tokens"] == conditions.REFERENCE.max_new_tokens
    assert conditions.of({"model": {}, "provenance": {"generation": generation}}).decoding == conditions.GREEDY
    assert (QWEN_PIXELS["min_pixels"], QWEN_PIXELS["max_pixels"]) == conditions.REFERENCE.pixels


def test_conditions_are_read_as_lmms_eval_applies_them():
    held = conditions.of({"model": {"backend": "qwen2_5_vl"},
                          "provenance": provenance("max_new_tokens=512,temperature=0.7,top_p=0.9",
                                                   "pretrained=/m,max_pixels=262144")})
    # the CLI's --gen_kwargs win over the task's; a pixel bound not given is the backend's own default
    assert held.max_new_tokens == 512 and held.decoding == "sampling (temperature 0.7, top_p 0.9)"
    assert held.pixels == (conditions.BACKEND_PIXELS["qwen2_5_vl"][0], 262144) and held.precision == "bfloat16"
    assert conditions.off_reference(held) == ["max new tokens: 512 vs 2048",
                                              "decoding: sampling (temperature 0.7, top_p 0.9) vs greedy",
                                              "pixels: 200,704–262,144 vs 3,136–12,845,056"]
    vllm = conditions.of({"model": {"backend": "vllm"}, "provenance": provenance(None, "model=/m,dtype=float16")})
    assert vllm.pixels is None and vllm.precision == "float16"  # vLLM's pixels: the checkpoint's, not recorded
    assert conditions.off_reference(vllm) == ["precision: float16 vs bfloat16"]
    assert conditions.of({"model": {}, "provenance": provenance(None, "model=/m,dtype=auto")}).precision is None
    reported = conditions.of({"model": {"backend": None}, "provenance": {}})  # the paper's rows record nothing
    assert conditions.group(reported) == conditions.REFERENCE_LABEL
    assert set(reported.described().values()) == {"not recorded"}
    beams = conditions.of({"model": {}, "provenance": {"generation": {**TEMPLATE_GENERATION, "num_beams": 4}}})
    assert beams.decoding == "beam search (4 beams)"


def entry_with_lines(name: str, right: list[int], override: str | None = None,
                     model_args: str = REFERENCE_ARGS) -> tuple[dict, bytes]:
    """A lite entry of the finebench protocol whose closed-world lines are right where `right` says, with its
    per-line sidecar, evaluated under the reference conditions changed by `override` / `model_args`."""
    entry = synthetic_entry(0, random.Random(0))
    entry["protocol"], entry["subset"] = Protocol.FINEBENCH, "lite"
    entry["model"].update(name=name, backend="qwen2_5_vl")
    entry["provenance"] = provenance(override, model_args)
    accuracy = 100 * float(np.mean(right))
    entry["scores"] = {"closed_accuracy": {"bird": {"seen": {"value": accuracy, "n": len(right),
                                                             "ci95": [accuracy - 5, accuracy + 5]}},
                                           "average": {"mean": {"value": accuracy, "ci95": [accuracy - 5,
                                                                                             accuracy + 5]}}}}
    rows = [{"metric": "closed_accuracy", "dataset": "bird", "split": "seen", "sample_id": f"s{i}",
             "ground_truth": "Laysan Albatross", "score": float(score), "answer": f"answer {i}", "named": None,
             "position": i % 4} for i, score in enumerate(right)]
    sidecar = lines.encode(rows)
    entry["lines"] = lines.reference(sidecar)
    return entries.validate(entry), sidecar


def publish_all(folder: Path, made: list[tuple[dict, bytes]]) -> dict[str, Path]:
    (folder / "lines").mkdir(parents=True, exist_ok=True)
    paths = {}
    for entry, sidecar in made:
        (folder / entry["lines"]["file"]).write_bytes(sidecar)
        paths[entry["model"]["name"]] = folder / entries.file_name(entry)
        paths[entry["model"]["name"]].write_bytes(entries.dumps(entry))
    return paths


STRONG = [1] * 190 + [0] * 10  # 95 %
WEAK = [1] * 120 + [0] * 80  # 60 %, the same lines: clearly behind STRONG under a paired test


def test_rows_differing_only_in_new_tokens_or_pixels_are_marked_and_ranked_apart(tmp_path):
    made = [entry_with_lines("reference-strong", STRONG), entry_with_lines("reference-weak", WEAK),
            entry_with_lines("short-answers", WEAK, override="max_new_tokens=512"),
            entry_with_lines("small-images", WEAK, model_args="pretrained=/m,min_pixels=3136,max_pixels=262144")]
    publish_all(tmp_path / "results", made)
    board = Leaderboard(Settings(results=(str(tmp_path / "results"),), queue=str(tmp_path / "queue"),
                                 runs_dir=tmp_path / "runs"))
    view = lambda **how: board.view("Closed-world accuracy", "", [], [], [], ["submitted"], [],
                                    ["model", "rank", "settings", "max new tokens", "pixels"], "lite",
                                    **how).set_index("model")
    shown = view()
    assert shown.loc["reference-strong", "settings"] == "reference"
    assert shown.loc["short-answers", "settings"] == "⚠ max new tokens: 512"
    assert shown.loc["small-images", "settings"] == "⚠ pixels: 3,136–262,144"
    assert shown.loc["short-answers", "max new tokens"] == "512"
    assert shown.loc["small-images", "pixels"] == "3,136–262,144"
    # by default each kind of settings is ranked among its own: the weak rows with other settings lead their groups
    assert dict(shown["rank"]) == {"reference-strong": 1, "reference-weak": 2, "short-answers": 1, "small-images": 1}
    together = view(across_settings=True)
    assert dict(together["rank"]) == {"reference-strong": 1, "reference-weak": 2, "short-answers": 2,
                                      "small-images": 2}
    assert set(view(settings=["reference"]).index) == {"reference-strong", "reference-weak"}
    assert set(view(settings=["other"]).index) == {"short-answers", "small-images"}
    markdown = board.details(next(key for key, entry in board.by_key.items()
                                  if entry["model"]["name"] == "short-answers"))[0]
    assert "not the reference settings" in markdown and r"max new tokens\: 512 vs 2048" in markdown  # as text

    keys = {board.by_key[key]["model"]["name"]: key for key in board.with_lines()}
    note, cells, _, _ = board.compare(keys["reference-strong"], keys["short-answers"])
    overall = cells[cells["dataset"] == "all"].iloc[0]
    assert overall["different"] == "not judged" and "max new tokens: 2048 vs 512" in note.replace("\\", "")
    note, cells, _, _ = board.compare(keys["reference-strong"], keys["short-answers"], True)
    assert cells[cells["dataset"] == "all"].iloc[0]["different"] == "yes" and "as asked" in note.replace("\\", "")
    note, cells, _, _ = board.compare(keys["reference-strong"], keys["reference-weak"])
    assert cells[cells["dataset"] == "all"].iloc[0]["different"] == "yes" and "settings" not in note


def test_finebench_compare_withholds_a_verdict_across_settings_and_says_why(tmp_path):
    paths = publish_all(tmp_path, [entry_with_lines("reference-strong", STRONG),
                                   entry_with_lines("small-images", WEAK,
                                                    model_args="pretrained=/m,max_pixels=262144")])
    command = [sys.executable, "-m", "finebench", "compare", str(paths["reference-strong"]), str(paths["small-images"])]
    withheld = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert withheld.returncode == 0, withheld.stderr
    overall = next(line for line in withheld.stdout.splitlines() if line.startswith("| closed_accuracy | all | all"))
    assert not overall.rstrip(" |").endswith("*") and "withheld here: the settings differ" in withheld.stdout
    assert "pixels: 3,136–12,845,056 vs 200,704–262,144" in withheld.stdout and "--across-settings" in withheld.stdout
    judged = subprocess.run([*command, "--across-settings"], capture_output=True, text=True, timeout=120)
    overall = next(line for line in judged.stdout.splitlines() if line.startswith("| closed_accuracy | all | all"))
    assert overall.rstrip(" |").endswith("*") and "as asked" in judged.stdout


def test_a_verdict_between_entries_evaluated_alike_is_given():
    a, _ = entry_with_lines("a", STRONG)
    b, _ = entry_with_lines("b", WEAK)
    assert compare.settings_verdict(a, b) == (True, "")
    b["provenance"]["cli_generation_override"] = "temperature=1.0"
    judged, note = compare.settings_verdict(a, b)
    assert not judged and "decoding: greedy vs sampling (temperature 1)" in note
    assert json.dumps(conditions.of(b).described())  # shown as text in tables and Details
