"""The runner: every check for `finebench doctor`, and the quick subset an evaluation runs before its first
generation (the preflight), which raises with every blocker and its fix."""

from __future__ import annotations

import fnmatch
import hashlib
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

from finebench import extras
from finebench.errors import FinebenchError
from finebench.home import HOME_VARIABLE, finebench_home, probe_cache_dir

from ..tasknames import DEFAULT_GLOB, open_world_selected, selected_units
from . import probes
from .check import FAIL, OK, WARN, Check
from .data import check_fewshot, check_prepared
from .encoder import ENCODER_TIMEOUT, check_encoder, hub_reachable
from .environment import check_extras, check_lock, check_python
from .storage import check_storage, check_writable_folder


def diagnose(encoder: str | None = None, timeout: float = probes.PROBE_TIMEOUT,
             locations: Sequence[tuple[str, str, str]] = ()) -> list[Check]:
    """Every check, the slow ones in two child processes that run at the same time. ``locations``:
    (name, folder or hf:// address, the setting that chooses it) of the leaderboard's storage."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        lmms_eval = pool.submit(probes.run_probe, "lmms-eval", "tasks", timeout)
        text_encoder = pool.submit(check_encoder, encoder, min(timeout, ENCODER_TIMEOUT))
        checks = [check_python(), check_lock(), check_extras()]
        report = lmms_eval.result() if extras.installed_version("lmms-eval") else {}
        checks += probes.lmms_eval_checks(report, tasks_checked=True)
        checks += probes.gpu_checks(report)
        checks.append(text_encoder.result() if extras.installed_version("lmms-eval") else
                      Check("text encoder", FAIL, "not checked: the eval extra is not installed",
                            extras.install_command(("eval",))))
    checks.append(check_writable_folder(HOME_VARIABLE, finebench_home()))
    checks += check_prepared(against_archives=True)
    checks.append(check_fewshot())
    checks += [check_storage(name, location, setting) for name, location, setting in locations]
    return checks


def check_task_selection(selection: str, known: Sequence[str]) -> Check | None:
    """A --tasks value whose names (or patterns) match nothing lmms-eval knows, with the nearest names."""
    import difflib

    special = ("list", "list_groups", "list_tags", "list_subtasks")  # lmms-eval's listings; paths are YAMLs
    unknown = [item.strip() for item in selection.split(",") if item.strip() and item.strip() not in special
               and not os.path.exists(item.strip()) and not fnmatch.filter(known, item.strip())]
    if not unknown:
        return None
    hints = "; ".join(f"{item!r}: nearest {', '.join(difflib.get_close_matches(item, known, 3, 0.5)) or 'none'}"
                      for item in unknown)
    return Check("tasks", FAIL, f"no task or group is called {', '.join(map(repr, unknown))} ({hints})",
                 f"correct the name; `finebench eval --tasks list` lists them all, and '{DEFAULT_GLOB}' is the "
                 "whole benchmark")


@dataclass
class Preflight:
    """What the preflight found, and what the evaluation's environment needs because of it."""

    checks: list[Check]
    variables: dict[str, str]  # HF_HUB_OFFLINE=1 when the hub cannot be reached: fail in seconds, not retries
    offline: str = ""  # why the hub cannot be reached, if it cannot


def check_output_folder(output: Path) -> Check:
    """The output folder: writable, and holding no other run (a run is never written over another)."""
    writable = check_writable_folder("output folder", output, "--output_path")
    if writable.blocks:
        return writable
    earlier = sorted(output.rglob("*_results.json")) if output.is_dir() else []
    if earlier:
        return Check("output folder", FAIL, f"{output} already holds a run ({earlier[-1].relative_to(output)})",
                     "choose an empty --output_path (runs are never written over one another), or move that run "
                     "away; to finish a run that stopped, run the same command again into a new folder: the "
                     "journal generates only what is missing")
    return writable


def encoder_check(encoder: str | None, reachable: bool, why: str) -> Check:
    """check_encoder, a success remembered per environment, encoder and hub access (a load costs seconds)."""
    from finebench.scoring.encoders import selected_encoder_name

    selected = selected_encoder_name(encoder)
    slug = hashlib.sha256(f"{probes.environment_key()}:{selected}:{reachable}".encode()).hexdigest()[:16]
    cached = probe_cache_dir() / f"encoder-{slug}.json"
    report = probes.remembered(cached, lambda: asdict(check_encoder(encoder, hub=(reachable, why))),
                        lambda report: not Check(**report).blocks)
    return Check(**report)


def preflight(selection: str | None, output: Path | None = None, home: Path | None = None,
              encoder: str | None = None) -> Preflight:
    """The quick checks an evaluation runs before its first generation: seconds (the slow probes are
    remembered per environment), no GPU. The text encoder is loaded when an open-world task is selected."""
    from concurrent.futures import ThreadPoolExecutor

    reachable, why = hub_reachable()
    variables = {} if reachable or os.environ.get("HF_HUB_OFFLINE") else {"HF_HUB_OFFLINE": "1"}
    checks = [check_lock(), check_writable_folder(HOME_VARIABLE, home or finebench_home())]
    if output is not None:
        checks.append(check_output_folder(output))
    with ThreadPoolExecutor(2) as pool:  # the two probes, when not remembered, run at the same time
        report = pool.submit(probes.evaluator_report)
        text_encoder = pool.submit(encoder_check, encoder, reachable, why) if selection and \
            open_world_selected(selection) and extras.installed_version("lmms-eval") else None
        report = report.result()
        checks += probes.lmms_eval_checks(report, tasks_checked=False)
        if text_encoder is not None:
            checks.append(text_encoder.result())
    if selection and "tasks" in report:
        checks.append(check_task_selection(selection, report["tasks"]["names"]))
    if selection:
        checks += [check for check in check_prepared(selected_units(selection), home) if check.status != OK]
    return Preflight([check for check in checks if check is not None], variables, why)


def require_preflight(what: str, selection: str | None, output: Path | None = None,
                      home: Path | None = None, encoder: str | None = None) -> dict[str, str]:
    """Run the preflight; print its warnings; raise with every blocker and its fix; return the variables
    the evaluation needs."""
    found = preflight(selection, output, home, encoder)
    for check in found.checks:
        if check.status == WARN:
            print(f"finebench {what}: warning: {check.name}: {check.found}", file=sys.stderr)
    blockers = [check for check in found.checks if check.blocks]
    if blockers:
        raise FinebenchError(
            f"cannot start: {len(blockers)} check{'s' if len(blockers) > 1 else ''} failed before any generation:\n"
            + "\n".join(f"  ✗ {check.name}: {check.found}" for check in blockers),
            "; ".join(dict.fromkeys(check.fix for check in blockers if check.fix)))
    if found.variables:
        print(f"finebench {what}: the model hub cannot be reached ({found.offline}): running with HF_HUB_OFFLINE=1, "
              "models and the text encoder come from the local cache", file=sys.stderr)
    return found.variables


def preflight_evaluation(what: str, arguments: Sequence[str], home: Path | None = None,
                         encoder: str | None = None) -> dict[str, str]:
    """The quick checks for the run these lmms-eval arguments describe (raises on a blocker); the variables
    the evaluation needs."""
    from ..evalrun import option_value

    started = time.perf_counter()
    tasks, output = option_value(arguments, "--tasks"), option_value(arguments, "--output_path")
    variables = require_preflight(what, tasks, Path(output) if output else None, home, encoder)
    print(f"finebench {what}: preflight passed in {time.perf_counter() - started:.1f} s (lmms-eval's evaluator, "
          "the text encoder, the prepared data of the selected tasks, the output folder)", file=sys.stderr)
    return variables
