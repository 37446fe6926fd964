"""`finebench worker --recipe systemd|slurm`: the worker as a deployable service, written for this machine.

The recipe runs the same `finebench worker` command line it was asked from (less --recipe), with the
leaderboard's locations and FINEBENCH_HOME as set now, by this finebench's absolute path. Both recipes let
the stop signal reach the worker itself, which stops its evaluation and gives the request back (worker.py):

    systemd   a service restarted on failure; KillMode=mixed sends SIGTERM to the worker alone and
              SIGKILL to what is left only after TimeoutStopSec; the token comes from an
              EnvironmentFile only root can read, never from the unit
    slurm     a batch script whose last command `exec`s the worker, with --signal=B:TERM@300 so that
              Slurm signals it five minutes before the time limit; one job per GPU (--array)

The token is never written into a recipe: a unit file or a batch script is read by others.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Sequence

from finebench.errors import FinebenchError
from finebench.harness.guard import GRACE
from finebench.home import finebench_home

from .settings import QUEUE_VARIABLE, RESULTS_VARIABLE, storage_locations

RECIPES = ("systemd", "slurm")
STOP_SECONDS = 90  # how long systemd waits for the worker to give its request back (the guard needs GRACE)
TOKEN_FILE = "/etc/finebench/worker.env"


def _finebench() -> str:
    """This finebench's command, by absolute path: a service does not run in the shell that installed it."""
    beside = Path(sys.executable).with_name("finebench")  # not resolved: a venv's python is a link
    found = str(beside.absolute()) if beside.is_file() else shutil.which("finebench")
    if not found:
        raise FinebenchError("the finebench command is not found beside this Python nor on PATH",
                             "install finebench into the environment the worker will run from")
    return found


def _variables() -> dict[str, str]:
    """The settings a worker needs as they are set here: FINEBENCH_HOME, the queue and results locations, and any
    other FINEBENCH_* variable (the stale limit, the encoder, the custom-code allow-list)."""
    (_, queue, _), *results = storage_locations()
    chosen = {"FINEBENCH_HOME": str(finebench_home()), QUEUE_VARIABLE: queue,
              RESULTS_VARIABLE: ",".join(location for _, location, _ in results)}
    chosen.update((name, os.environ[name]) for name in sorted(os.environ)
                  if name.startswith("FINEBENCH_") and name not in chosen)
    return chosen


def _systemd_value(text: str) -> str:
    """A value for a double-quoted systemd assignment: backslashes and quotes escaped, % doubled (a specifier)."""
    if "\n" in text or "\r" in text:
        raise FinebenchError(f"{text!r} holds a line break, which a systemd unit cannot carry",
                             "set the variable or the flag without it")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")


def systemd_unit(arguments: Sequence[str]) -> str:
    # in ExecStart, $NAME would be expanded: $$ is a literal $
    command = " ".join(f'"{_systemd_value(word).replace("$", "$$")}"' for word in [_finebench(), "worker", *arguments])
    environment = "\n".join(f'Environment="{_systemd_value(f"{name}={value}")}"'
                            for name, value in _variables().items())
    return f"""\
# finebench leaderboard worker: evaluates queued submissions on this machine and publishes their entries.
# Install: sudo cp finebench-worker.service /etc/systemd/system/ && sudo systemctl daemon-reload
#          sudo systemctl enable --now finebench-worker   (logs: journalctl -u finebench-worker -f)
# The Hub token goes in {TOKEN_FILE} (HF_TOKEN=hf_..., chmod 600), never in this file.
[Unit]
Description=finebench leaderboard worker
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={getpass.getuser()}
WorkingDirectory={_systemd_value(str(Path.cwd()))}
{environment}
EnvironmentFile=-{TOKEN_FILE}
ExecStart={command}
# SIGTERM to the worker alone: it stops its evaluation ({GRACE:.0f} s grace for the GPU) and gives the request back
KillMode=mixed
KillSignal=SIGTERM
TimeoutStopSec={STOP_SECONDS}
Restart=on-failure
RestartSec=30

[Install]
WantedBy=multi-user.target
"""


def slurm_script(arguments: Sequence[str]) -> str:
    exports = "\n".join(f"export {name}={shlex.quote(value)}" for name, value in _variables().items())
    command = shlex.join([_finebench(), "worker", *arguments])
    return f"""\
#!/usr/bin/env bash
# finebench leaderboard worker as a Slurm job: one GPU, evaluating queued submissions.
# Submit: sbatch finebench-worker.sbatch        (four GPUs: sbatch --array=1-4 finebench-worker.sbatch)
# The Hub token comes from the environment sbatch exports (HF_TOKEN), never from this file.
#SBATCH --job-name=finebench-worker
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=64G
#SBATCH --time=24:00:00
#SBATCH --signal=B:TERM@300
#SBATCH --output=finebench-worker-%A_%a.log
# --signal=B:TERM@300: five minutes before the time limit Slurm sends SIGTERM to this script, which is the
# worker (exec below): it stops its evaluation and gives the request back to the queue, PENDING.
set -euo pipefail
cd {shlex.quote(str(Path.cwd()))}
{exports}
exec {command}
"""


def recipe(kind: str, arguments: Sequence[str]) -> str:
    """The recipe of `kind` for `finebench worker ARGUMENTS`."""
    if kind not in RECIPES:
        raise FinebenchError(f"no recipe {kind!r}", f"choose one of {', '.join(RECIPES)}")
    return systemd_unit(arguments) if kind == "systemd" else slurm_script(arguments)
