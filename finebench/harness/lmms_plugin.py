"""A shim so that plain `lmms-eval --tasks finegrained_*` finds finebench's tasks, with no --include_path.

lmms-eval 0.7.3 builds its task index from its own folder and --include_path only: it reads no
entry point for tasks, and its LMMS_EVAL_PLUGINS variable is appended to the include path after the
TaskManager is built (lmms_eval/__main__.py, around lines 638 and 683). It does load the
`lmms_eval.models` entry points when `lmms_eval.models` is imported, which its evaluator does
before any TaskManager exists. finebench registers `register` there: it teaches
TaskManager.initialize_tasks to index finebench's task folder too, then registers no model.

Guarded: only on the lmms-eval versions it was tested with (TESTED), and never when
FINEBENCH_LMMS_EVAL_TASKS=0. Remove it when lmms-eval reads tasks from entry points.
`lmms-eval tasks list` imports no model, so it cannot see the tasks this way; `finebench eval --tasks
list` or `lmms-eval tasks list --include-path "$(finebench tasks-dir)"` does.
"""

from __future__ import annotations

import os
import sys
from importlib import metadata

TESTED = ("0.7.3",)
SWITCH = "FINEBENCH_LMMS_EVAL_TASKS"  # 0: leave lmms-eval's task index alone


def tasks_folder() -> str:
    from .taskgen import tasks_dir

    return str(tasks_dir())


def _with_finebench(include_path):
    """lmms-eval's include_path (None, a folder or a list) with finebench's task folder added once."""
    folder = tasks_folder()
    paths = [] if include_path is None else [include_path] if isinstance(include_path, str) else list(include_path)
    known = {os.path.realpath(path) for path in paths}
    return paths if os.path.realpath(folder) in known else [*paths, folder]


def install() -> bool:
    """Patch lmms-eval's task index to include finebench's tasks; whether it did."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    version = metadata.version("lmms-eval")
    if version not in TESTED:
        print(f"finebench: the task shim is tested with lmms-eval {', '.join(TESTED)}, not {version}: pass "
              f"--include_path {tasks_folder()} (or use finebench eval) to find finebench's tasks", file=sys.stderr)
        return False
    from lmms_eval.tasks import TaskManager

    original = TaskManager.initialize_tasks
    if getattr(original, "finebench_shim", False):
        return True

    def initialize_tasks(self, include_path=None, include_defaults=True):
        return original(self, include_path=_with_finebench(include_path), include_defaults=include_defaults)

    initialize_tasks.finebench_shim = True
    TaskManager.initialize_tasks = initialize_tasks
    return True


def register() -> list:
    """The `lmms_eval.models` entry point: install the shim, register no model (the responders have their own)."""
    install()
    return []
