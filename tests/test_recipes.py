"""`finebench worker --recipe`: a systemd unit and a Slurm batch script that run the worker as asked, with this
shell's settings, whatever characters they hold; the Slurm script run as Slurm would run it evaluates a request."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from finebench.cli import build_parser
from finebench.leaderboard.queue import FINISHED
from finebench.leaderboard.submission import validate_submission

BIN = Path(sys.executable).parent
HOSTILE = "/tmp/a queue 100%/with \"quote\" and $HOME"


def recipe(kind: str, *flags: str, env: dict | None = None) -> str:
    made = subprocess.run([BIN / "finebench", "worker", "--recipe", kind, *flags], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **(env or {})})
    assert made.returncode == 0, made.stderr
    return made.stdout


def systemd_words(text: str) -> list[str]:
    """A double-quoted systemd value list as systemd reads it: quotes grouped, \\\\ \\" unescaped, %% and $$ made
    single (systemd.syntax(7), systemd.service(5))."""
    words = re.findall(r'"((?:[^"\\]|\\.)*)"', text)
    return [re.sub(r"\\(.)", r"\1", word).replace("%%", "%").replace("$$", "$") for word in words]


def test_the_systemd_unit_runs_the_worker_as_asked_and_stops_it_gently(tmp_path):
    unit = recipe("systemd", "--drain", "--gen-kwargs", "max_new_tokens=16", "--batch-size", "8",
                  env={"FINEBENCH_QUEUE": HOSTILE, "FINEBENCH_STALE_SECONDS": "900"})
    lines = dict(line.split("=", 1) for line in unit.splitlines() if "=" in line and not line.startswith("#")
                 and not line.startswith("Environment="))
    environment = [systemd_words(line.split("=", 1)[1])[0] for line in unit.splitlines()
                   if line.startswith("Environment=")]
    assert f"FINEBENCH_QUEUE={HOSTILE}" in environment and "FINEBENCH_STALE_SECONDS=900" in environment
    assert not any(name.startswith("HF_TOKEN") for name in environment)  # the token lives in the EnvironmentFile
    command = systemd_words(lines["ExecStart"])
    assert command[0] == str(BIN / "finebench") and command[1:3] == ["worker", "--drain"]
    parsed = build_parser().parse_args(command[1:])  # every flag the unit passes exists
    assert parsed.drain and parsed.gen_kwargs == "max_new_tokens=16" and parsed.batch_size == 8
    assert parsed.recipe is None
    assert lines["KillMode"] == "mixed" and lines["KillSignal"] == "SIGTERM"
    assert int(lines["TimeoutStopSec"]) > 10 + 30  # the guard's grace, then giving the request back
    assert lines["Restart"] == "on-failure" and lines["EnvironmentFile"] == "-/etc/finebench/worker.env"


@pytest.mark.slow(seconds=30)
def test_the_slurm_script_run_as_slurm_runs_it_evaluates_the_queue(deployment, tmp_path):
    settings, queue, _ = deployment
    identifier = queue.submit(validate_submission("ground_truth", "main", "bfloat16", "reference responder",
                                                  "responder", "ci@example.org", "finebench", settings)).id
    script = tmp_path / "finebench-worker.sbatch"
    script.write_text(recipe("slurm", "--drain", "--lite"))
    text = script.read_text()
    assert "#SBATCH --signal=B:TERM@300" in text and "#SBATCH --gres=gpu:1" in text
    assert text.rstrip().splitlines()[-1].startswith(f"exec {shlex.quote(str(BIN / 'finebench'))} worker --drain")
    # Slurm runs the script with bash in a fresh environment holding only what sbatch exports: not our FINEBENCH_*
    clean = {name: value for name, value in os.environ.items() if not name.startswith("FINEBENCH_")}
    ran = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600, cwd="/",
                         env={**clean, "SLURM_JOB_ID": "4242", "SLURM_ARRAY_TASK_ID": "1",
                              "FINEBENCH_ENCODER": "minilm"})
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "processed 1 request(s)" in ran.stdout and queue.get(identifier).status == FINISHED
