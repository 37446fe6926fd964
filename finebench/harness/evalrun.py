"""`finebench eval`: lmms-eval with finebench's task folder included.

Everything after `finebench eval` goes to lmms-eval unchanged, plus `--include_path
<tasks folder>` (unless given), the text encoder chosen with `--encoder` and the journal's
folder. lmms-eval exits 0 on many errors, so when --output_path is given the wrapper checks
that a new results file appeared, and that every line was scored, and fails loudly otherwise.
lmms-eval reads --output_path (and --model_args) as key=value pairs split on ',': a folder
whose path holds ',' or '=' is handed to it as a symlink in a private temporary folder
(PathLinks). lmms-eval runs under a guard: killed with this process, its tree goes too.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Mapping, Sequence

from finebench.errors import FinebenchError
from finebench.home import HOME_VARIABLE
from finebench.scoring.encoders import ENCODER_VARIABLE

from . import guard
from .journal import JOURNAL_VARIABLE
from .lmms_plugin import ONLY, SWITCH
from .nodes import Nodes
from .taskgen import tasks_dir

SEPARATORS = ",="  # lmms-eval splits the values of --output_path and --model_args on these
PATH_OPTIONS = ("--output_path", "--include_path")


class PathLinks:
    """Paths lmms-eval can carry: one holding a separator becomes a symlink in a private temporary
    folder for as long as the context lasts; the others pass unchanged."""

    def __enter__(self) -> "PathLinks":
        self._folder: Path | None = None
        return self

    def carry(self, path: str | Path) -> str:
        if not any(character in str(path) for character in SEPARATORS):
            return str(path)
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="finebench-links-"))
            if any(character in str(self._folder) for character in SEPARATORS):
                raise FinebenchError(f"{path} holds ',' or '=', which lmms-eval cannot read in a path, and so does "
                                     f"the temporary folder {self._folder}", "set TMPDIR to a plain folder")
        target = Path(path).absolute()
        target.mkdir(parents=True, exist_ok=True)  # every path handed over is a folder; lmms-eval fills it
        link = self._folder / str(len(list(self._folder.iterdir())))
        link.symlink_to(target)
        return str(link)

    def __exit__(self, *exc) -> None:
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)


def launcher(processes: int, nodes: Nodes = Nodes()) -> list[str]:
    """How lmms-eval is started: one Python process, or torchrun's data-parallel processes on this
    machine and the other nodes (one per GPU, where each model's Accelerator takes the GPU of its LOCAL_RANK;
    without a GPU, CPU processes over gloo, which `accelerate launch --cpu` cannot start: it runs one)."""
    if processes == 1 and not nodes.several:
        return [sys.executable, "-m", "lmms_eval"]
    return [sys.executable, "-m", "torch.distributed.run", *nodes.torchrun(processes), "-m", "lmms_eval"]


def lmms_eval_command(arguments: Sequence[str], links: PathLinks, processes: int = 1,
                      nodes: Nodes = Nodes()) -> list[str]:
    arguments = list(arguments)
    if "--include_path" not in arguments:
        arguments += ["--include_path", str(tasks_dir())]
    for index, argument in enumerate(arguments):
        if index > 0 and arguments[index - 1] in PATH_OPTIONS:
            arguments[index] = links.carry(argument)
        elif argument.startswith(tuple(f"{option}=" for option in PATH_OPTIONS)):
            option, value = argument.split("=", 1)
            arguments[index] = f"{option}={links.carry(value)}"
    return [*launcher(processes, nodes), *arguments]


def option_value(arguments: Sequence[str], name: str) -> str | None:
    """The value of an lmms-eval option in an argument list, in either spelling (--name value, --name=value)."""
    for index, argument in enumerate(arguments):
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
    return None


def with_option(arguments: Sequence[str], name: str, value: str) -> list[str]:
    """The arguments with the option's value replaced, in whichever spelling it was given."""
    changed = list(arguments)
    for index, argument in enumerate(changed):
        if argument == name and index + 1 < len(changed):
            changed[index + 1] = value
        elif argument.startswith(name + "="):
            changed[index] = f"{name}={value}"
    return changed


def only_finebench_tasks(selection: str | None) -> bool:
    """Whether every name or pattern in a --tasks value matches one of finebench's tasks or groups (then
    lmms-eval need not index its own tasks: lmms_plugin)."""
    import fnmatch

    from .tasknames import all_names

    names = [item.strip() for item in (selection or "").split(",") if item.strip()]
    known = all_names()
    return bool(names) and all(fnmatch.filter(known, name) for name in names)


def run_lmms_eval(arguments: Sequence[str], encoder: str | None = None, home: Path | None = None,
                  log: Path | None = None, variables: Mapping[str, str] | None = None, processes: int = 1,
                  journal: Path | None = None, nodes: Nodes = Nodes()) -> int:
    """Run lmms-eval under a guard (its whole process tree dies with this process); ``home`` is the
    FINEBENCH_HOME its task hooks read the prepared data from, ``log`` a file for its output (default: this
    terminal), ``variables`` more of its environment, ``processes`` data-parallel processes (on this node
    of ``nodes``), ``journal`` the generation journal's folder (None: none). On a node other than node 0
    lmms-eval writes no results, so none are looked for."""
    environment = {**os.environ, **(variables or {})}
    environment.pop(JOURNAL_VARIABLE, None)
    if journal is not None:
        environment[JOURNAL_VARIABLE] = str(journal)
    if encoder:
        environment[ENCODER_VARIABLE] = encoder
    if home is not None:
        environment[HOME_VARIABLE] = str(home)
    if environment.get(SWITCH, "1").strip() == "1" and only_finebench_tasks(option_value(arguments, "--tasks")):
        environment[SWITCH] = ONLY
    started = time.time()
    with PathLinks() as links:
        command = lmms_eval_command(arguments, links, processes, nodes)
        if log is None:
            code = guard.call(command, env=environment)
        else:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "w") as handle:
                code = guard.call(command, env=environment, stdout=handle, stderr=subprocess.STDOUT)
    output = option_value(arguments, "--output_path")
    if code == 0 and output and nodes.rank == 0:
        fresh = [path for path in Path(output).rglob("*_results.json") if path.stat().st_mtime >= started]
        if not fresh:
            print(f"finebench eval: lmms-eval wrote no results to {output}; its log {log or 'above'} says why "
                  "(add --verbosity DEBUG for the full traceback)", file=sys.stderr)
            return 1
        unscored = [task for path in fresh for task in unscored_tasks(path)]
        if unscored:
            print(f"finebench eval: scoring failed on {len(unscored)} task(s) ({', '.join(unscored[:4])}…): the "
                  f"reason is above. Every generation is kept in {output}; once the cause is fixed, finish the "
                  f"scoring without generating again:\n  finebench rescore {output} --output {output}-rescored "
                  "[--encoder NAME]", file=sys.stderr)
            return 1
    return code


def unscored_tasks(results_path: Path) -> list[str]:
    """The tasks of a results file whose metrics are not numbers: lines the task hooks could not score."""
    from .runs import parse_task

    results = json.loads(results_path.read_text("utf-8")).get("results", {})
    return [task for task, metrics in results.items() if parse_task(task) is not None and any(
        isinstance(value, float) and math.isnan(value) for name, value in metrics.items() if name.endswith(",none"))]
