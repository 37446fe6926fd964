"""`finebench eval` around lmms-eval: paths that lmms-eval's own parser would split."""

import json
import os
import subprocess
import sys

import pytest

from finebench.harness.evalrun import PathLinks, lmms_eval_command


def test_paths_with_separators_are_handed_over_as_links(tmp_path):
    plain, awkward = tmp_path / "plain", tmp_path / "a,b=c" / "run"
    with PathLinks() as links:
        command = lmms_eval_command(["--model", "x", "--output_path", str(awkward),
                                     f"--include_path={plain}"], links)
        linked = command[command.index("--output_path") + 1]
        assert "," not in linked and "=" not in linked
        assert os.path.realpath(linked) == str(awkward) and awkward.is_dir()
        assert f"--include_path={plain}" in command  # a plain path passes unchanged
    assert not os.path.lexists(linked)  # the links go with the context


@pytest.mark.slow(seconds=12)
def test_an_evaluation_into_a_folder_with_a_comma_and_an_equals_sign(prepared_home, tmp_path):
    output = tmp_path / "team,runs=2026" / "ground truth"
    result = subprocess.run([sys.executable, "-m", "finebench", "eval", "--model", "ground_truth", "--tasks",
                             "finegrained-lite_bird_seen_closed", "--log_samples", "--output_path", str(output)],
                            capture_output=True, text=True, timeout=600,
                            env={**os.environ, "FINEBENCH_HOME": str(prepared_home)})
    assert result.returncode == 0, result.stderr[-2000:]
    results = json.loads(next(output.rglob("*_results.json")).read_text())
    assert results["results"]["finegrained-lite_bird_seen_closed"]["finebench_accuracy,none"] == 100.0
    assert len(next(output.rglob("*_samples_*.jsonl")).read_text().splitlines()) == 50


def test_lmms_eval_indexes_only_finebench_tasks_when_only_they_are_asked_for(monkeypatch):
    """Indexing lmms-eval's own ~2,000 tasks costs every start 3 s: skipped when every name asked for is
    finebench's, kept when one may be lmms-eval's (or a YAML path)."""
    from lmms_eval.tasks import TaskManager

    from finebench.harness.evalrun import only_finebench_tasks
    from finebench.harness.lmms_plugin import ONLY, SWITCH, install_tasks

    assert only_finebench_tasks("finegrained_*") and only_finebench_tasks(" finegrained-lite, finegrained-official-lite")
    for selection in ("finegrained_*,mme", "mme", "tasks/mine.yaml", "list", "", None):
        assert not only_finebench_tasks(selection), selection
    monkeypatch.setenv(SWITCH, ONLY)
    assert install_tasks()
    narrow = TaskManager("ERROR").all_tasks  # (the whole index, lmms-eval's default, holds mme and 2,000 more)
    assert "finegrained_bird_seen_closed" in narrow and "finegrained-lite" in narrow and "mme" not in narrow
