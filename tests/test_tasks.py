"""The task YAMLs: generated, complete, loadable by lmms-eval, and clear when data is missing."""

import itertools
import subprocess
import sys

from finebench.data.registry import DATASET_KEYS
from finebench.harness import taskgen
from finebench.scoring.metrics import ALL_METRICS


def test_committed_yamls_are_what_taskgen_writes():
    folder = taskgen.tasks_dir()
    committed = {path.name: path.read_text() for path in folder.iterdir()
                 if path.suffix == ".yaml" or path.name == "_default_template_yaml"}
    assert committed == taskgen.generate(), "run `python -m finebench.harness.taskgen` and commit the result"


def test_the_task_and_group_names():
    files = taskgen.generate()
    tasks = {name[:-5] for name in files if name.startswith("finegrained")}
    groups = {name[len("_group_"):-5] for name in files if name.startswith("_group_")}
    assert len(tasks) == 144 and not tasks & groups
    assert {f"finegrained_{d}_{s}_{w}" for d in DATASET_KEYS for s in ("seen", "unseen")
            for w in ("closed", "open")} <= tasks
    assert {"finegrained", "finegrained-closed", "finegrained-open", "finegrained-official", "finegrained-lite",
            "finegrained-closed-seen", "finegrained-official-lite", "finegrained-cot", "finegrained-icl",
            "finegrained-circular", "finegrained-circular-lite", "finegrained-circular-unseen",
            *(f"finegrained-{d}" for d in DATASET_KEYS)} <= groups
    assert not any("_" in group for group in groups)  # so no suite's glob can catch a group


def test_a_suite_glob_matches_its_tasks_and_nothing_else():
    """lmms-eval's --tasks patterns are fnmatch over every task and group name: '<suite>_*' must be
    that suite's leaf tasks, each once, and 'finegrained_*' the default benchmark (71,132 line x world)."""
    import fnmatch

    from finebench.data.manifests import TOTAL_LINES
    from finebench.harness import tasknames

    names = tasknames.all_names()
    assert len(names) == len(set(names))
    default = fnmatch.filter(names, tasknames.DEFAULT_GLOB)
    assert sorted(default) == sorted(tasknames.task_name(variant, d, s) for variant in ("closed", "open")
                                     for d in DATASET_KEYS for s in ("seen", "unseen"))
    assert 2 * TOTAL_LINES == 71_132  # each of the 24 tasks is one manifest's lines in one world
    for lite in (False, True):
        for suite, variants in tasknames.suites(lite).items():
            matched = fnmatch.filter(names, f"{suite}_*")
            expected = [name for name, variant, *_ in tasknames.leaf_tasks(lite) if variant in variants]
            assert sorted(matched) == sorted(expected), suite
            assert len(matched) == 12 * len(variants)
    assert len(fnmatch.filter(names, "finegrained-lite_*")) == 24  # 1,200 lines x worlds: 600 closed, 600 open


def test_metric_names_are_not_substrings_of_one_another():
    for first, second in itertools.permutations(ALL_METRICS, 2):
        assert first not in second


def test_lmms_eval_indexes_every_task_and_group_and_its_globs_match_as_ours():
    from lmms_eval.tasks import TaskManager

    from finebench.harness import tasknames

    manager = TaskManager("WARNING", include_path=str(taskgen.tasks_dir()))
    expected = {name.removeprefix("_group_")[:-5] for name in taskgen.generate() if name.endswith(".yaml")}
    assert expected <= set(manager.all_tasks) and expected == set(tasknames.all_names())
    assert len(manager.match_tasks(["finegrained_*"])) == 24  # lmms-eval's own matcher, on its whole index


def test_old_names_are_mapped_to_the_new():
    from finebench.harness import tasknames

    renamed, notes = tasknames.rename_legacy("finegrained_lite,finegrained_official_bird_seen_closed,mmmu_val")
    assert renamed == "finegrained-lite,finegrained-official_bird_seen_closed,mmmu_val" and len(notes) == 2
    assert set(tasknames.legacy_names().values()) <= set(tasknames.all_names())


def test_missing_prepared_data_names_the_prepare_command(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import utils; utils.files_dog_unseen")
    result = subprocess.run([sys.executable, "-c", code, str(taskgen.tasks_dir())], capture_output=True, text=True,
                            env={"FINEBENCH_HOME": str(tmp_path), "PATH": ""})
    assert result.returncode != 0
    assert "dog_unseen is not prepared" in result.stderr
    assert "finebench prepare --download --datasets dog" in result.stderr


def test_prompts_are_the_released_strings():
    from finebench.scoring.prompts import closed_prompt, open_prompt

    assert closed_prompt("What kind of bird is this?", ["Laysan Albatross", "Sooty Albatross"]) == (
        "Given the question: What kind of bird is this?, based on the options provided in "
        "['Laysan Albatross', 'Sooty Albatross'], output the thinking process in <think> </think> and final "
        "choice in <answer> </answer> tags. The response format should be: <think>...</think> <answer>choice</answer>.")
    assert open_prompt("What kind of bird is this?") == (
        "Given the question: What kind of bird is this?. This is a fine-grained question. Output reasoning in "
        "<think></think> and the final answer in <answer></answer>.")


def test_every_task_name_parses_back_to_its_key():
    from finebench.harness.runs import TaskKey, parse_task
    from finebench.scoring.protocols import Protocol

    files = taskgen.generate()
    tasks = [name[:-5] for name in files if name.startswith("finegrained")]
    assert all(parse_task(name) is not None for name in tasks)
    assert parse_task("finegrained-icl-lite_bird_unseen_closed") == TaskKey(
        "finegrained-icl-lite_bird_unseen_closed", Protocol.FINEBENCH, True, "bird", "unseen", "closed", "in-context")
    assert parse_task("finegrained-official_car_seen_closed") == TaskKey(
        "finegrained-official_car_seen_closed", Protocol.OFFICIAL, False, "car", "seen", "closed", "zero-shot")
    assert parse_task("finegrained_bird_seen_open").order is None  # the open world shows no options
    assert parse_task("finegrained-cot_pet_seen_closed").strategy == "zero-shot CoT"
    assert parse_task("finegrained-lite_dog_seen_open").world == "open"
    groups = [name[len("_group_"):-5] for name in files if name.startswith("_group_")]
    assert not any(map(parse_task, [*groups, "mmmu_val", "finegrained-official_bird_seen_open"]))
    # runs made with finebench 0.1's names are still read
    assert parse_task("finegrained_official_lite_car_seen_closed").order == Protocol.OFFICIAL
    assert parse_task("finegrained_lite_dog_seen_open").lite


def test_responders_find_the_options_in_every_closed_prompt():
    from finebench.harness.responders import options_in_prompt
    from finebench.scoring.prompts import STEP_BY_STEP, closed_prompt

    options = ["Boeing 737-800", "it's [odd], isn't it", "A330-200", "ATR-72"]
    prompt = closed_prompt("Which aircraft, based on its shape?", options)
    assert options_in_prompt(f"Image 1: an example of ATR-72. {prompt}{STEP_BY_STEP}") == options


def test_the_prefetch_embeds_answers_and_each_datasets_class_names_once(monkeypatch):
    """Scoring compares each answer with its class name and super-category: all of them reach the encoder's
    background batches, the class names once per process, so lmms-eval's line-by-line scoring finds them."""
    from types import SimpleNamespace

    from finebench.data.classnames import OFFICIAL_SUPER_CATEGORIES
    from finebench.data.registry import get_dataset
    from finebench.harness import taskhooks

    handed: list[list[str]] = []
    monkeypatch.setattr(taskhooks, "load_encoder", lambda: SimpleNamespace(prefetch=handed.append))
    monkeypatch.setattr(taskhooks, "_names_prefetched", set())
    requests = [SimpleNamespace(task_name=name) for name in ("finegrained-lite_pet_seen_open",
                                                              "finegrained-lite_pet_seen_closed")]
    taskhooks.prefetch_embeddings(requests, ["<answer>Sphynx</answer>", "<answer>A</answer>"])
    taskhooks.prefetch_embeddings(requests[:1], ["<answer>Bombay</answer>"])
    pet = get_dataset("pet")
    assert {"Sphynx", *pet.class_names, pet.super_category, *OFFICIAL_SUPER_CATEGORIES} <= set(handed[0])
    assert "A" not in handed[0]  # the closed world's answers are not embedded
    assert "Bombay" in handed[1] and not set(handed[1]) & (set(pet.class_names) - {"Bombay"})  # not twice
