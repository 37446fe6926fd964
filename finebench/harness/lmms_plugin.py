"""Two shims into lmms-eval 0.7.3, loaded through its model entry point: plain `lmms-eval --tasks
finegrained_*` finds finebench's tasks with no --include_path, and models answer through the
generation journal when FINEBENCH_JOURNAL names one (see journal.py), with their open-world
answers embedded in large batches in the background before lmms-eval scores them line by line.

lmms-eval 0.7.3 builds its task index from its own folder and --include_path only: it reads no
entry point for tasks, and its LMMS_EVAL_PLUGINS variable is appended to the include path after the
TaskManager is built (lmms_eval/__main__.py, around lines 638 and 683). It does load the
`lmms_eval.models` entry points when `lmms_eval.models` is imported, which its evaluator does
before any TaskManager exists. finebench registers `register` there: it teaches
TaskManager.initialize_tasks to index finebench's task folder too, and lmms.create_from_arg_string
(how lmms-eval's evaluator makes every model) to wrap the model's generate_until (wrap_generation),
then registers no model.

Guarded: only on the lmms-eval versions it was tested with (TESTED); the task shim never when
FINEBENCH_LMMS_EVAL_TASKS=0, the journal only when FINEBENCH_JOURNAL is set. FINEBENCH_LMMS_EVAL_TASKS=only
indexes finebench's tasks (and any --include_path) without lmms-eval's own ~2,000, which costs 3 s of every
start: `finebench eval` sets it when every name in --tasks is finebench's (evalrun.only_finebench_tasks).
Remove the task shim when lmms-eval reads tasks from entry points.
`lmms-eval tasks list` imports no model, so it cannot see the tasks this way; `finebench eval --tasks
list` or `lmms-eval tasks list --include-path "$(finebench tasks-dir)"` does.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

TESTED = ("0.7.3",)
SWITCH = "FINEBENCH_LMMS_EVAL_TASKS"  # 0: leave lmms-eval's task index alone; only: finebench's tasks alone
ONLY = "only"


def tasks_folder() -> str:
    from .taskgen import tasks_dir

    return str(tasks_dir())


def _with_finebench(include_path):
    """lmms-eval's include_path (None, a folder or a list) with finebench's task folder added once."""
    folder = tasks_folder()
    paths = [] if include_path is None else [include_path] if isinstance(include_path, str) else list(include_path)
    known = {os.path.realpath(path) for path in paths}
    return paths if os.path.realpath(folder) in known else [*paths, folder]


def tested_version() -> bool:
    """Whether this lmms-eval is one the shims were tested with (else a one-line note says what to do)."""
    version = metadata.version("lmms-eval")
    if version in TESTED:
        return True
    print(f"finebench: the lmms-eval shims are tested with lmms-eval {', '.join(TESTED)}, not {version}: pass "
          f"--include_path {tasks_folder()} (or use finebench eval) to find finebench's tasks; the generation "
          "journal is off", file=sys.stderr)
    return False


def install_tasks() -> bool:
    """Patch lmms-eval's task index to include finebench's tasks; whether it did."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, "finebench_shim", False):
        return True

    def initialize_tasks(self, include_path=None, include_defaults=True):
        defaults = include_defaults and os.environ.get(SWITCH, "").strip().lower() != ONLY
        return original(self, include_path=_with_finebench(include_path), include_defaults=defaults)

    initialize_tasks.finebench_shim = True
    TaskManager.initialize_tasks = initialize_tasks
    return True


def wrap_generation(model, name: str, model_args: str | None) -> None:
    """Route the model's generate_until through generate_in_chunks: answers journaled (if FINEBENCH_JOURNAL
    names a journal) as each chunk is done, and each chunk's open-world answers handed to the text encoder
    to embed in the background, while the model generates the next chunk and lmms-eval scores."""
    from .journal import chunk_size, generate_in_chunks, journal_for
    from .taskhooks import prefetch_embeddings

    generate, journal, chunk = model.generate_until, journal_for(model, name, model_args), chunk_size(model)

    def generate_until(requests):
        return generate_in_chunks(generate, list(requests), chunk, journal, prefetch_embeddings)

    model.generate_until = generate_until


def install_generation() -> None:
    """Patch how lmms-eval makes a model (lmms.create_from_arg_string) so that each model's generation is
    wrapped by wrap_generation."""
    from lmms_eval.api.model import lmms

    original = lmms.create_from_arg_string.__func__
    if getattr(original, "finebench_shim", False):
        return

    def create_from_arg_string(cls, arg_string, additional_config=None):
        model = original(cls, arg_string, additional_config)
        wrap_generation(model, f"{cls.__module__}.{cls.__qualname__}", arg_string)
        return model

    create_from_arg_string.finebench_shim = True
    lmms.create_from_arg_string = classmethod(create_from_arg_string)


def register() -> list:
    """The `lmms_eval.models` entry point: install the shims, register no model (the responders have their own)."""
    if tested_version():
        install_tasks()
        install_generation()
    return []
