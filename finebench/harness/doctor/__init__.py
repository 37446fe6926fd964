"""`finebench doctor`: what will stop a run, found before anyone spends GPU hours on it.

Each check returns rows of (status, what was found, the fix). A row that fails is a
blocker: doctor exits non-zero, and `finebench eval`, the worker, `baselines run` and the
demo refuse to start. Warnings (a version that differs from the lock, archives that moved)
are printed and do not block. Anything that imports lmms-eval, torch or a text encoder
runs in a child process with a time limit, so a hang or a crash is a row, not the end of
doctor; the quick subset (`preflight`) is what the evaluation commands run first.

    check                  a finding (status, what was found, the fix), and how findings are shown
    environment            Python, the installed versions against the lock, the extras
    probes                 lmms-eval's evaluator and task index, torch and the GPUs (child processes)
    encoder                the model hub's reachability and the open world's text encoder
    data                   the prepared units (or the shared copy), the few-shot sets
    storage                folders finebench writes, the leaderboard's queue and results
    runner                 every check (doctor), and the preflight of an evaluation
"""

from .check import FAIL, INFO, MARKS, OK, WARN, Check, as_json, render
from .data import check_fewshot, check_prepared, check_shared
from .encoder import check_encoder, hub_reachable
from .environment import check_extras, check_lock, check_python, read_lock
from .probes import evaluator_report, gpu_checks, lmms_eval_checks, remembered, run_probe
from .runner import Preflight, diagnose, preflight, preflight_evaluation, require_preflight
from .storage import check_storage, check_writable_folder

__all__ = ["FAIL", "INFO", "MARKS", "OK", "WARN", "Check", "Preflight", "as_json", "check_encoder",
           "check_extras", "check_fewshot", "check_lock", "check_prepared", "check_python", "check_shared",
           "check_storage", "check_writable_folder", "diagnose", "evaluator_report", "gpu_checks", "hub_reachable",
           "lmms_eval_checks", "preflight", "preflight_evaluation", "read_lock", "remembered", "render",
           "require_preflight", "run_probe"]
