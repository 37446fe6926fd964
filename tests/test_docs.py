"""The docs: the site builds in strict mode (a broken link or anchor fails), its reference pages come from the
code, and every `finebench …` and `lmms-eval …` command the README and the docs show is one their parsers accept
(each flag exists, each choice is valid); the commands that read only what finebench ships are run here, and
every other one is either run by a named test (RUN_BY, checked to exist) or listed with why it is not (NOT_RUN)."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from finebench.cli import build_parser
from finebench.results import entries

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_BLOCKS = ("", "bash", "sh", "console")  # fence languages holding commands (text blocks hold output)
RUN_HERE = {("tables",), ("baselines", "list"), ("tasks-dir",)}  # read only what finebench ships: run them
# Every other command the pages show -> the test that runs it here (its CLI, or the function the CLI calls).
RUN_BY = {
    ("baselines", "run"): "test_cli.py::test_baselines_run_appends_the_extra_model_arguments",
    ("bench", "prepare"): "test_bench.py::test_prepare_benchmark_prints_its_figures",
    ("bench", "scoring"): "test_bench.py::test_bench_scoring_times_both_scorers_and_they_agree",
    ("bench", "download"): "test_bench.py::test_bench_download_reports_both_ratios",
    ("bench", "leaderboard"): "test_bench.py::test_bench_leaderboard_reports_cold_starts_against_a_bare_app",
    ("compare",): "test_conditions.py::test_finebench_compare_withholds_a_verdict_across_settings_and_says_why",
    ("data", "pull"): "test_sharing.py::test_push_to_a_folder_then_pull_and_read_in_place",
    ("data", "push"): "test_sharing.py::test_push_to_a_folder_then_pull_and_read_in_place",
    ("demo",): "test_end_to_end.py::test_ground_truth_scores_100_everywhere",
    ("eval",): "test_lmms_eval_cli.py::test_two_processes_give_the_records_and_entries_of_one",
    ("ingest",): "test_end_to_end.py::test_rescoring_reproduces_the_run_and_ingests",
    ("leaderboard",): "test_leaderboard_app.py::test_the_app_in_chromium",
    ("leaderboard", "space"):
        "test_space.py::test_the_space_folder_alone_installs_in_a_fresh_venv_and_serves_the_leaderboard",
    ("prepare",): "test_download.py::test_prepare_download_fetches_what_is_missing_and_finds_the_rest",
    ("status",): "test_cli.py::test_status_after_prepare",
    ("submit",): "test_tapo_cli.py::test_data_then_two_tapo_steps_then_evaluate_the_checkpoint",
    ("train", "data"): "test_tapo_cli.py::test_data_then_two_tapo_steps_then_evaluate_the_checkpoint",
    ("train", "import-cot"): "test_cot_import.py::test_import_command_writes_the_records_of_the_archives_found",
    ("worker",):
        "test_worker.py::test_racing_worker_processes_evaluate_each_request_once_and_a_killed_ones_request_finishes",
    ("lmms-eval",): "test_lmms_eval_cli.py::test_a_suite_glob_through_plain_lmms_eval_generates_each_line_once",
}
# Shown, parsed above, and not run by the suite, with why.
NOT_RUN = {
    ("bench", "harness"): "six lmms-eval runs of the full benchmark, minutes each (docs/measurements.md); the runs "
                          "themselves are what test_lmms_eval_cli.py and test_resume.py run",
    ("bench", "circular"): "four lmms-eval runs, the circular one of 4 x 600 lines even with --lite "
                           "(docs/measurements.md); test_circular.py runs the circular tasks",
}


def test_the_site_builds_in_strict_mode_with_its_generated_reference(tmp_path):
    built = subprocess.run([BIN / "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=REPO,
                           capture_output=True, text=True, timeout=300, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert built.returncode == 0, built.stderr[-3000:]
    cli = (tmp_path / "site" / "reference" / "cli" / "index.html").read_text()
    for words in ("leaderboard space", "worker", "data push", "compare", "train tapo", "eval"):
        assert f"finebench {words}</h2>" in cli or f"finebench {words}<a" in cli, words
    assert "--across-settings" in cli and "--recipe" in cli  # the flags as the parsers declare them
    assert "finegrained_bird_seen_closed" in (tmp_path / "site" / "reference" / "tasks" / "index.html").read_text()
    assert "schema_version" in (tmp_path / "site" / "reference" / "entries" / "index.html").read_text()


def shell_blocks(text: str) -> list[str]:
    """The contents of the page's fenced blocks whose language is a shell's (or none)."""
    blocks, current, language = [], None, ""
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            if current is None:
                current, language = [], line.strip().removeprefix("```").strip()
            else:
                if language in SHELL_BLOCKS:
                    blocks.append("".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def shown_commands() -> list[tuple[str, list[str]]]:
    """(page, words) of every finebench or lmms-eval command in the pages' shell blocks: continuation lines
    joined, `&&` chains split, comments, variable assignments and the venv's bin/ dropped."""
    found = []
    for page in PAGES:
        for block in shell_blocks(page.read_text()):
            joined = re.sub(r"\\\n\s*", " ", block)
            for line in joined.splitlines():
                line = line.split(" # ")[0].strip()
                if not line or line.startswith("#"):
                    continue
                for part in line.split("&&"):
                    head = [word for word in part.split() if not re.match(r"^[A-Z_][A-Z0-9_]*=", word)][:1]
                    if not head or Path(head[0]).name not in ("finebench", "lmms-eval"):
                        continue  # another program, or a block of output
                    words = shlex.split(part.strip().rstrip("&").strip(), comments=True)
                    while re.match(r"^[A-Z_][A-Z0-9_]*=", words[0]):
                        words = words[1:]
                    found.append((page.name, [Path(words[0]).name, *words[1:]]))
    return found


COMMANDS = shown_commands()


def test_the_pages_show_commands_at_all():
    assert len(COMMANDS) > 50 and {"README.md", "leaderboard.md", "data.md", "evaluate.md"} <= {p for p, _ in COMMANDS}


def parse_finebench(words: list[str]):
    if words[:1] == ["eval"]:  # finebench eval's own options, then lmms-eval's arguments
        from finebench.cli.evaluation import _own_options

        _, rest = _own_options().parse_known_args(words[1:])
        return parse_lmms_eval(rest)
    return build_parser().parse_args(words)


def parse_lmms_eval(words: list[str]):
    from lmms_eval.__main__ import parse_eval_args

    saved = sys.argv
    sys.argv = ["lmms-eval", *words]
    try:
        return parse_eval_args()[1]
    finally:
        sys.argv = saved


@pytest.mark.parametrize("page,words", COMMANDS, ids=[f"{page}:{' '.join(words)[:60]}" for page, words in COMMANDS])
def test_every_command_shown_is_one_its_parser_accepts(page, words):
    try:
        parse_finebench(words[1:]) if words[0] == "finebench" else parse_lmms_eval(words[1:])
    except SystemExit as refused:
        pytest.fail(f"{page}: {' '.join(words)} is refused by its parser (exit {refused.code})")


def circular_entry() -> dict:
    """A circular-protocol entry and the same model's plain one, as `finebench tables --circular` sets side by side."""
    import random

    from finebench.leaderboard.benchmark import synthetic_entry

    entry = synthetic_entry(0, random.Random(0))
    closed = entry["scores"]["closed_accuracy"]
    entry.update(protocol="circular", scores={metric: closed for metric in entries.CIRCULAR_METRICS})
    return entry


@pytest.mark.parametrize("words", sorted({tuple(words[1:]) for _, words in COMMANDS if words[0] == "finebench"
                                          and any(tuple(words[1:1 + len(c)]) == c for c in RUN_HERE)}))
def test_the_commands_that_read_only_what_finebench_ships_run(words, tmp_path):
    """Run as shown, in a home whose ~/.cache/finebench/results holds entries (the paper's rows, copied)."""
    from finebench.results.tables import reported_dir

    results = tmp_path / ".cache" / "finebench" / "results"
    shutil.copytree(reported_dir(), results, ignore=shutil.ignore_patterns("tables_*", "__*"))
    entries.write(circular_entry(), results / "circular.json")  # for `tables --circular`
    words = [f"{tmp_path}/{word[2:]}" if word.startswith("~/") else word for word in words]  # as a shell would
    ran = subprocess.run([BIN / "finebench", *words], capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "HOME": str(tmp_path), "FINEBENCH_HOME": str(results.parent)})
    assert ran.returncode == 0 and ran.stdout.strip(), ran.stderr[-2000:]


def command_path(words: list[str]) -> tuple[str, ...]:
    """The command a shown line runs: ("lmms-eval",), or finebench's subcommand words (("data", "push"))."""
    import argparse

    if words[0] == "lmms-eval":
        return ("lmms-eval",)
    parser, path = build_parser(), []
    for word in words[1:]:
        choices = {name: child for action in parser._actions if isinstance(action, argparse._SubParsersAction)
                   for name, child in action.choices.items()}
        if word not in choices:
            break
        parser, path = choices[word], [*path, word]
    return tuple(path)


def test_every_command_shown_is_run_here_by_a_named_test_or_says_why_not():
    import ast

    unaccounted, missing = [], []
    for page, words in COMMANDS:
        path = command_path(words)
        if path in RUN_HERE or path in NOT_RUN:
            continue
        if path not in RUN_BY:
            unaccounted.append(f"{page}: {' '.join(words)[:80]} ({' '.join(path)})")
    for path, named in RUN_BY.items():
        file, function = named.split("::")
        tree = ast.parse((REPO / "tests" / file).read_text())
        if function not in {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}:
            missing.append(f"{' '.join(path)}: {named} does not exist")
    assert not unaccounted, ("commands no test runs; name one in RUN_BY or say why in NOT_RUN:\n"
                             + "\n".join(unaccounted))
    assert not missing, "\n".join(missing)
