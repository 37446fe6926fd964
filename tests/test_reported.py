"""The paper's numbers, transcribed into result entries, and the tables rebuilt from them."""

import re
from pathlib import Path

import pytest

from finebench.cli import main
from finebench.data.registry import DATASET_KEYS
from finebench.results import entries, tables

PAPER = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fine-r1-paper.txt"
EXPECTED_ROWS = {1: 18, 2: 14, 6: 14, 7: 3}


@pytest.fixture(scope="module")
def reported():
    return tables.load_entries(["reported"])


def test_every_reported_entry_is_valid_and_official(reported):
    assert len(reported) == 21
    assert all(entry["source"] == "reported" and entry["protocol"] == "official" for entry in reported)
    for number, count in EXPECTED_ROWS.items():
        assert sum(number in entry["provenance"]["paper_tables"] for entry in reported) == count


def test_every_average_column_follows_from_the_cells(reported):
    for entry in reported:
        for metric, scores in entry["scores"].items():
            averages = {}
            for split in ("seen", "unseen"):
                averages[split] = sum(scores[d][split]["value"] for d in DATASET_KEYS) / 6
                assert averages[split] == pytest.approx(scores["average"][split]["value"], abs=0.01), \
                    (entry["model"]["name"], metric, split)
            mean = (scores["average"]["seen"]["value"] + scores["average"]["unseen"]["value"]) / 2
            assert mean == pytest.approx(scores["average"]["mean"]["value"], abs=0.011), (entry["model"]["name"], metric)


def paper_rows(number):
    text = PAPER.read_text()
    start = text.index(f"Table {number}:")
    rows = []
    for line in text[start:].splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) >= 16 and re.match(r"^(<u>)?\d", cells[1].strip()):
            rows.append([cells[0].strip(), *(re.sub(r"</?u>", "", c).strip() for c in cells[1:16])])
        elif rows and line.strip() and len(cells) < 16 and not line.startswith(("General", "Reasoning", "CLIP")):
            break
    return rows


@pytest.mark.parametrize("number", [1, 2, 6, 7])
def test_tables_rebuild_the_paper_cell_for_cell(number, reported):
    if not PAPER.is_file():
        pytest.skip("the paper's text is not beside the project")
    rebuilt = tables.render(tables.TABLES[number], reported, style="tsv").splitlines()[1:]
    labels = {entry["model"]["name"]: entry["provenance"]["paper_rows"].get(str(number)) for entry in reported}
    ours = [[labels[row.split("\t")[0]], *row.split("\t")[1:]] for row in rebuilt]
    assert ours == paper_rows(number)


def test_best_is_bold_and_second_underlined(reported):
    markdown = tables.render(tables.TABLES[1], reported)
    fine_r1_7b = next(line for line in markdown.splitlines() if line.startswith("| Fine-R1-7B"))
    assert "**90.50**" in fine_r1_7b and "<u>82.32</u>" in fine_r1_7b  # seen Bird best; seen Air. second
    assert "| *CLIP Models* |" in markdown and "| *Reasoning MLLMs* |" in markdown
    latex = tables.render(tables.TABLES[2], reported, style="latex")
    assert "\\textbf{74.80}" in latex and "\\begin{tabular}" in latex
    csv_text = tables.render(tables.TABLES[6], reported, style="csv")
    assert csv_text.splitlines()[1].startswith("General MLLMs,Idefics2-8B,7.49")


def test_compare_lines_up_reproduced_and_reported(reported, tmp_path):
    reproduced = next(e for e in reported if e["model"]["name"] == "Qwen2.5-VL-7B")
    reproduced = {**reproduced, "source": "reproduced", "scores": {"closed_accuracy": {
        "bird": {"seen": {"value": 71.0, "n": 3483, "ci95": [69.5, 72.4]},
                 "unseen": {"value": 60.0, "n": 2311, "ci95": [58.0, 62.0]}}}}}
    report = tables.compare([reproduced], reported)
    lines = [line.split("\t") for line in report.splitlines()]
    assert lines[1][:9] == ["Qwen2.5-VL-7B", "official", "closed_accuracy", "seen", "bird", "71.00", "70.54", "+0.46",
                            "yes"]
    assert lines[2][-2:] == ["-6.29", "no"]
    path = entries.write(reproduced, tmp_path / "qwen.json")
    assert main(["tables", "--source", str(path), "--compare", "reported"]) == 0


def test_tables_command_formats(capsys):
    assert main(["tables", "--table", "7", "--format", "tsv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[1].startswith("openPangu-VL-7B\t65.33")
    assert main(["tables", "--protocol", "finebench"]) == 2
    assert "no finebench entries" in capsys.readouterr().err


def test_unreadable_entries_raise_or_are_collected(tmp_path, reported):
    from finebench.errors import FinebenchError
    from finebench.leaderboard import data
    from finebench.leaderboard.storage import LocalStorage

    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "tables_1.json").write_text("{not an entry either, and skipped}")
    with pytest.raises(FinebenchError, match="broken.json"):
        tables.load_entries(["reported", tmp_path])
    problems = []
    assert len(tables.load_entries(["reported", tmp_path], problems)) == len(reported)
    assert len(problems) == 1 and problems[0].startswith("broken.json: ")
    # the leaderboard's reader, over a folder with a broken file and one the worker has not made yet
    shown = []
    loaded = [*data.load_reported(shown), *data.load_published(LocalStorage(tmp_path), shown),
              *data.load_published(LocalStorage(tmp_path / "not yet created"), shown)]
    where = lambda found: [problem.split(" (")[0] for problem in found]  # the JSON parsers word the reason apart
    assert len(loaded) == len(reported) and where(shown) == where(problems)
