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
    assert len(tasks) == 120 and not tasks & groups
    assert {f"finegrained_{d}_{s}_{w}" for d in DATASET_KEYS for s in ("seen", "unseen")
            for w in ("closed", "open")} <= tasks
    assert {"finegrained", "finegrained_closed", "finegrained_open", "finegrained_official", "finegrained_lite",
            "finegrained_closed_seen", "finegrained_official_lite", "finegrained_cot", "finegrained_icl",
            *(f"finegrained_{d}" for d in DATASET_KEYS)} <= groups


def test_metric_names_are_not_substrings_of_one_another():
    for first, second in itertools.permutations(ALL_METRICS, 2):
        assert first not in second


def test_lmms_eval_indexes_every_task_and_group():
    from lmms_eval.tasks import TaskManager

    manager = TaskManager("WARNING", include_path=str(taskgen.tasks_dir()))
    names = set(manager.all_tasks)
    expected = {name.removeprefix("_group_")[:-5] for name in taskgen.generate() if name.endswith(".yaml")}
    assert expected <= names


def test_missing_prepared_data_names_the_prepare_command(tmp_path):
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import utils; utils.files_dog_unseen")
    result = subprocess.run([sys.executable, "-c", code, str(taskgen.tasks_dir())], capture_output=True, text=True,
                            env={"FINEBENCH_HOME": str(tmp_path), "PATH": ""})
    assert result.returncode != 0
    assert "dog_unseen is not prepared" in result.stderr
    assert "finebench prepare --data-root <folder with the archives> --datasets dog" in result.stderr


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
    assert parse_task("finegrained_icl_lite_bird_unseen_closed") == TaskKey(
        "finegrained_icl_lite_bird_unseen_closed", Protocol.FINEBENCH, True, "bird", "unseen", "closed", "in-context")
    assert parse_task("finegrained_official_car_seen_closed") == TaskKey(
        "finegrained_official_car_seen_closed", Protocol.OFFICIAL, False, "car", "seen", "closed", "zero-shot")
    assert parse_task("finegrained_bird_seen_open").order is None  # the open world shows no options
    assert parse_task("finegrained_cot_pet_seen_closed").strategy == "zero-shot CoT"
    assert parse_task("finegrained_lite_dog_seen_open").world == "open"
    groups = [name[len("_group_"):-5] for name in files if name.startswith("_group_")]
    assert not any(map(parse_task, [*groups, "mmmu_val", "finegrained_official_bird_seen_open"]))


def test_responders_find_the_options_in_every_closed_prompt():
    from finebench.harness.responders import options_in_prompt
    from finebench.scoring.prompts import STEP_BY_STEP, closed_prompt

    options = ["Boeing 737-800", "it's [odd], isn't it", "A330-200", "ATR-72"]
    prompt = closed_prompt("Which aircraft, based on its shape?", options)
    assert options_in_prompt(f"Image 1: an example of ATR-72. {prompt}{STEP_BY_STEP}") == options
