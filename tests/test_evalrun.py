"""`finebench eval` around lmms-eval: paths that lmms-eval's own parser would split."""

import json
import os
import subprocess
import sys

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
