"""The circular closed world through the real `lmms-eval` script with the reference responders: each line asked
in the four rotations of its finebench order (each option once in each position), ground_truth 100, first_option
0 with its whole score at position 1, random_option at chance (1/256 of lines, a quarter of rotations); its entries,
wholeness and rescoring."""

import json
import math
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from scipy.stats import binomtest

from finebench.data.store import PreparedStore
from finebench.errors import FinebenchError
from finebench.harness.rescore import rescore
from finebench.harness.responders import RandomOption, options_in_prompt
from finebench.harness.runs import read_run
from finebench.results.ingest import build_entries, ingest
from finebench.scoring.circular import circular_percent, rotated, score_rotation
from finebench.scoring.protocols import Protocol

BIN = Path(sys.executable).parent
SUITE = "finegrained-circular-lite"
RESPONDERS = ("ground_truth", "first_option", "random_option")
LINES = 600  # 12 lite units of 50 lines


@pytest.fixture(scope="module")
def runs(prepared_home, tmp_path_factory):
    """`lmms-eval --model <responder> --tasks finegrained-circular-lite_* --log_samples`, the three at once."""
    folder = tmp_path_factory.mktemp("circular")
    environment = {**os.environ, "FINEBENCH_HOME": str(prepared_home)}
    processes = {name: subprocess.Popen([BIN / "lmms-eval", "--model", name, "--tasks", f"{SUITE}_*", "--log_samples",
                                         "--output_path", str(folder / name)], cwd=folder, env=environment,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for name in RESPONDERS}
    for name, process in processes.items():
        _, errors = process.communicate(timeout=600)
        assert process.returncode == 0, f"{name}: {errors[-2000:]}"
    return {name: folder / name for name in RESPONDERS}


def results(run: Path) -> dict:
    return json.loads(next(run.rglob("*_results.json")).read_text())["results"]


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for path in sorted(run.rglob("*_samples_*.jsonl"))
            for line in path.read_text().splitlines()]


@pytest.mark.slow(seconds=22)  # its module's runs
def test_each_line_is_asked_in_the_four_rotations_of_its_finebench_order(runs, prepared_home):
    prompts = defaultdict(dict)  # sample_id -> rotation -> the options the prompt listed
    for sample in samples(runs["ground_truth"]):
        record = sample["circular_accuracy"]
        assert record["rotation"] == sample["doc_id"] % 4
        prompts[record["sample_id"]][record["rotation"]] = options_in_prompt(sample["input"])
    assert len(prompts) == LINES and all(sorted(shown) == [0, 1, 2, 3] for shown in prompts.values())
    for shown in prompts.values():
        for option in shown[0]:  # each option in each position exactly once
            assert sorted(shown[rotation].index(option) for rotation in range(4)) == [0, 1, 2, 3]
        assert all(shown[rotation] == rotated(shown[0], rotation) for rotation in range(4))
    store = PreparedStore(prepared_home / "prepared")
    balanced = {row["sample_id"]: row["balanced_options"] for path in
                [file for dataset in ("bird", "car") for file in store.data_files(dataset, "unseen", lite=True)]
                for row in pq.read_table(path, columns=["sample_id", "balanced_options"]).to_pylist()}
    assert balanced and all(prompts[sample_id][0] == options for sample_id, options in balanced.items())


def test_the_reference_responders_score_what_they_must(runs):
    tasks = [name for name in results(runs["ground_truth"]) if name.startswith(f"{SUITE}_")]
    assert len(tasks) == 12
    truth, first = results(runs["ground_truth"]), results(runs["first_option"])
    for task in tasks:
        assert truth[task]["circular_accuracy,none"] == 100 and truth[task]["rotated_accuracy,none"] == 100
        assert first[task]["circular_accuracy,none"] == 0 and first[task]["rotated_accuracy,none"] == 25
        assert [first[task][f"position{k}_accuracy,none"] for k in (1, 2, 3, 4)] == [100, 0, 0, 0]


def test_random_option_is_at_chance_and_its_figure_is_its_lines(runs):
    """Counted here from the raw answers: a line is right when all four of its answers are its ground truth."""
    answers = defaultdict(list)
    for sample in samples(runs["random_option"]):
        record = sample["circular_accuracy"]
        answer = sample["filtered_resps"].split("<answer>")[1].split("</answer>")[0]
        answers[record["dataset"], record["split"], record["sample_id"]].append(answer == record["ground_truth"])
    right = {line: all(rotations) and len(rotations) == 4 for line, rotations in answers.items()}
    figures = results(runs["random_option"])
    for task, figure in figures.items():
        if task.startswith(f"{SUITE}_"):
            dataset, split = task.split("_")[1:3]
            lines = [ok for (d, s, _), ok in right.items() if (d, s) == (dataset, split)]
            assert figure["circular_accuracy,none"] == pytest.approx(100 * sum(lines) / len(lines))
    rotations = [ok for line in answers.values() for ok in line]
    assert len(right) == LINES and len(rotations) == 4 * LINES
    assert binomtest(sum(right.values()), LINES, 1 / 256).pvalue > 0.001  # about 0.4 % of lines
    assert binomtest(sum(rotations), len(rotations), 1 / 4).pvalue > 0.001


def test_random_option_over_many_lines_scores_one_in_256():
    """The responder's own choices, through the circular scoring and aggregation, over 25,600 lines: 1/256 of them
    right (0.39 %), within a binomial 99.9 % band."""
    responder = RandomOption(seed=7)
    options = ["Laysan Albatross", "Black footed Albatross", "Sooty Albatross", "Crested Auklet"]
    records = []
    for line in range(25_600):
        doc = {"sample_id": f"bird/{line}", "dataset": "bird", "split": "seen", "ground_truth": options[line % 4],
               "balanced_options": options}
        for rotation in range(4):
            shown = rotated(options, rotation)
            answer = responder.choose(shown, doc["ground_truth"], f"7:circular:{4 * line + rotation}")
            records.append(score_rotation({**doc, "rotation": rotation}, f"<answer>{answer}</answer>"))
    figure = circular_percent([record["circular_accuracy"] for record in records])
    low, high = (100 * bound / 25_600 for bound in (70, 132))  # Binomial(25600, 1/256): mean 100, sd 9.98
    assert low < figure < high and math.isclose(figure / 100 * 25_600, round(figure / 100 * 25_600))
    by_position = [[record[f"position{k}_accuracy"]["score"] for record in records if f"position{k}_accuracy" in record]
                   for k in (1, 2, 3, 4)]
    assert all(len(scores) == 25_600 and 0.24 < sum(scores) / len(scores) < 0.26 for scores in by_position)


def test_the_circular_entries(runs):
    built = {name: build_entries(read_run(runs[name])) for name in RESPONDERS}
    for name, entries_ in built.items():
        assert [entry["protocol"] for entry in entries_] == [Protocol.CIRCULAR]
        assert set(entries_[0]["scores"]) == {"circular_accuracy", "rotated_accuracy"}
        assert entries_[0]["scores"]["circular_accuracy"]["bird"]["seen"]["n"] == 50  # lines, not rotations
    mean = {name: entries_[0]["scores"]["circular_accuracy"]["average"]["mean"]["value"]
            for name, entries_ in built.items()}
    assert mean["ground_truth"] == 100 and mean["first_option"] == 0 and mean["random_option"] < 3
    assert built["first_option"][0]["positions"] == [100, 0, 0, 0]
    assert built["ground_truth"][0]["positions"] == [100, 100, 100, 100]
    assert built["first_option"][0]["scores"]["rotated_accuracy"]["average"]["mean"]["value"] == 25


def test_a_run_missing_a_rotation_or_with_rotations_misplaced_is_not_whole(runs, tmp_path):
    cut = read_run(runs["ground_truth"])
    task = next(name for name in cut.samples if "bird_seen" in name)
    cut.samples[task] = cut.samples[task][:-1]  # the last line's fourth rotation
    with pytest.raises(FinebenchError, match="lack lines"):
        build_entries(cut)
    partial = build_entries(cut, allow_partial=True)[0]
    assert partial["scores"]["circular_accuracy"]["bird"]["seen"]["n"] == 49 and partial["partial"]
    swapped = read_run(runs["ground_truth"])
    first, second = swapped.samples[task][0], swapped.samples[task][1]
    first["doc_id"], second["doc_id"] = second["doc_id"], first["doc_id"]
    with pytest.raises(FinebenchError, match="document 1 is rotation 0"):
        build_entries(swapped)


def test_a_circular_run_rescores_to_the_same_figures(runs, tmp_path):
    target = rescore(runs["random_option"], tmp_path / "rescored")
    before, after = results(runs["random_option"]), json.loads(target.read_text())["results"]
    for task, figures in after.items():
        if task.startswith(f"{SUITE}_"):
            for metric in ("circular_accuracy", "rotated_accuracy", *(f"position{k}_accuracy" for k in (1, 2, 3, 4))):
                assert figures[f"{metric},none"] == pytest.approx(before[task][f"{metric},none"]), (task, metric)
    assert build_entries(read_run(tmp_path / "rescored"))[0]["scores"] == \
        build_entries(read_run(runs["random_option"]))[0]["scores"]



def test_the_circular_table_the_tab_and_the_plot(runs, tmp_path):
    """`finebench tables --circular` and the leaderboard's Circular accuracy tab: each circular entry beside the same
    model's plain finebench closed-world figure; the position plot draws circular entries too."""
    from finebench.leaderboard import data
    from finebench.leaderboard.app import CIRCULAR, Leaderboard
    from finebench.leaderboard.settings import Settings
    from finebench.results import entries

    folder = tmp_path / "results"
    for name in RESPONDERS:
        ingest(runs[name], folder)  # entries and their per-line files
    circular = entries.read(next(folder.glob("first_option__circular*.json")))
    plain = {**circular, "protocol": Protocol.FINEBENCH, "lines": None, "positions": None,
             "scores": {"closed_accuracy": circular["scores"]["rotated_accuracy"]}}  # 25 %, as first_option scores
    entries.write(plain, folder / entries.file_name(plain))
    with pytest.raises(FinebenchError, match="a circular entry cannot hold closed_accuracy"):
        entries.validate({**circular, "scores": plain["scores"]})

    shown = subprocess.run([sys.executable, "-m", "finebench", "tables", "--entries", str(folder), "--circular",
                            "--format", "csv", "--plot", str(tmp_path / "positions.png")], capture_output=True,
                           text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    table = shown.stdout[shown.stdout.index("model,source"):]  # after the plot's line
    rows = {line.split(",")[0]: line.split(",") for line in table.splitlines()[1:]}
    assert list(rows) == ["ground_truth", "random_option", "first_option"]  # best circular first
    assert rows["first_option"][3:8] == ["25.00", "25.00", "0.00", "0.00", "0.00"]
    assert rows["first_option"][9:] == ["25.00", "100.00", "0.00", "0.00", "0.00"]  # plain - circular, positions
    assert rows["ground_truth"][3] == "-" and (tmp_path / "positions.png").read_bytes()[:4] == b"\x89PNG"

    compared = subprocess.run([sys.executable, "-m", "finebench", "compare",
                               str(next(folder.glob("ground_truth__circular*.json"))),
                               str(next(folder.glob("first_option__circular*.json"))), "--disagreements", "1"],
                              capture_output=True, text=True, timeout=120)
    assert compared.returncode == 0, compared.stderr
    assert "| circular_accuracy | all | all | 600 | 100.00 | 0.00 | +100.00 |" in compared.stdout
    assert "| 600 | 0 |" in compared.stdout and "A (right): '1: " in compared.stdout  # McNemar's counts, answers

    board = Leaderboard(Settings(results=(str(folder),), queue=str(tmp_path / "queue"), runs_dir=tmp_path / "runs"))
    ranked = board.view(CIRCULAR, "", [], [], [], [], [], None, "lite")
    assert list(ranked["model"]) == ["ground_truth", "random_option", "first_option"]
    assert list(ranked["rank"]) == [1, 2, 3] and set(ranked["ties by"]) == {"paired"}  # all three carry lines
    assert list(data.circular_frame(board.entries)["plain - circular"].fillna(-1)) == [-1, -1, 25]
    assert dict(board.position_profiles())["first_option (circular, lite)"] == [100, 0, 0, 0]


def test_a_circular_table_of_no_entries_says_how_to_make_one(tmp_path):
    shown = subprocess.run([sys.executable, "-m", "finebench", "tables", "--entries", "reported", "--circular"],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode != 0 and "finegrained-circular" in shown.stderr and "Traceback" not in shown.stderr
