"""`finebench eval`: lmms-eval with finebench's task folder included.

Everything after `finebench eval` goes to lmms-eval unchanged, plus `--include_path
<tasks folder>` (unless given) and the text encoder chosen with `--encoder`. lmms-eval
exits 0 on many errors, so when --output_path is given the wrapper checks that a new
results file appeared and fails loudly otherwise.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Mapping, Sequence

from .encoders import ENCODER_VARIABLE
from .home import HOME_VARIABLE
from .taskgen import tasks_dir


def lmms_eval_command(arguments: Sequence[str]) -> list[str]:
    arguments = list(arguments)
    if "--include_path" not in arguments:
        arguments += ["--include_path", str(tasks_dir())]
    return [sys.executable, "-m", "lmms_eval", *arguments]


def _option(arguments: Sequence[str], name: str) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def preflight_evaluation(what: str, arguments: Sequence[str], home: Path | None = None) -> None:
    """finebench doctor's quick checks for the run these lmms-eval arguments describe (raises on a blocker)."""
    from .doctor import require_preflight
    from .taskgen import selected_units

    started = time.perf_counter()
    tasks, output = _option(arguments, "--tasks"), _option(arguments, "--output_path")
    require_preflight(what, selected_units(tasks) if tasks else None, Path(output) if output else None, home)
    print(f"finebench {what}: preflight passed in {time.perf_counter() - started:.1f} s "
          "(lmms-eval's evaluator, the prepared data of the selected tasks, writable folders)", file=sys.stderr)


def run_lmms_eval(arguments: Sequence[str], encoder: str | None = None, home: Path | None = None,
                  log: Path | None = None, variables: Mapping[str, str] | None = None) -> int:
    """Run lmms-eval; ``home`` is the FINEBENCH_HOME its task hooks read the prepared data from,
    ``log`` a file for its output (default: this terminal), ``variables`` more of its environment."""
    environment = {**os.environ, **(variables or {})}
    if encoder:
        environment[ENCODER_VARIABLE] = encoder
    if home is not None:
        environment[HOME_VARIABLE] = str(home)
    started = time.time()
    if log is None:
        code = subprocess.call(lmms_eval_command(arguments), env=environment)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "w") as handle:
            code = subprocess.call(lmms_eval_command(arguments), env=environment, stdout=handle,
                                   stderr=subprocess.STDOUT)
    output = _option(arguments, "--output_path")
    if code == 0 and output:
        fresh = [path for path in Path(output).rglob("*_results.json") if path.stat().st_mtime >= started]
        if not fresh:
            print(f"finebench eval: lmms-eval wrote no results to {output}; its log {log or 'above'} says why "
                  "(add --verbosity DEBUG for the full traceback)", file=sys.stderr)
            return 1
    return code
