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
from typing import Sequence

from .encoders import ENCODER_VARIABLE
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


def run_lmms_eval(arguments: Sequence[str], encoder: str | None = None) -> int:
    environment = dict(os.environ)
    if encoder:
        environment[ENCODER_VARIABLE] = encoder
    started = time.time()
    code = subprocess.call(lmms_eval_command(arguments), env=environment)
    output = _option(arguments, "--output_path")
    if code == 0 and output:
        fresh = [path for path in Path(output).rglob("*_results.json") if path.stat().st_mtime >= started]
        if not fresh:
            print(f"finebench eval: lmms-eval wrote no results to {output}; its log above says why "
                  "(add --verbosity DEBUG for the full traceback)", file=sys.stderr)
            return 1
    return code
