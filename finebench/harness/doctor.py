"""`finebench doctor`: what will stop a run, found before anyone spends GPU hours on it.

Each check returns rows of (status, what was found, the fix). A row that fails is a
blocker: doctor exits non-zero, and `finebench eval`, the worker, `baselines run` and the
demo refuse to start. Warnings (a version that differs from the lock, archives that moved)
are printed and do not block. Anything that imports lmms-eval, torch or a text encoder
runs in a child process with a time limit, so a hang or a crash is a row, not the end of
doctor; the quick subset (`preflight`) is what the evaluation commands run first.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence
from urllib.parse import urlparse

from finebench import extras
from finebench.data.manifests import SPECS
from finebench.data.store import METADATA_FILE, PreparedStore, prepare_command
from finebench.errors import FinebenchError
from finebench.home import HOME_VARIABLE, fewshot_dir, finebench_home, prepared_dir

from .tasknames import DEFAULT_GLOB, open_world_selected, selected_units

OK, FAIL, WARN, INFO = "ok", "fail", "warn", "info"
MARKS = {OK: "✓", FAIL: "✗", WARN: "!", INFO: "·"}
MIN_FREE_BYTES = 2**29  # below half a GiB a run cannot even write its samples
LOW_FREE_BYTES = 5 * 2**30  # the prepared benchmark from the real archives takes a few GiB
PROBE_TIMEOUT = 180.0  # importing lmms-eval and torch takes 5-10 s here; a hang must not hang doctor
ENCODER_TIMEOUT = 120.0
HUB_TIMEOUT = 5.0


@dataclass
class Check:
    name: str
    status: str  # ok | fail | warn | info
    found: str
    fix: str = ""

    @property
    def blocks(self) -> bool:
        return self.status == FAIL


# ---------------------------------------------------------------------------- the environment


def check_python() -> Check:
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):
        return Check("python", FAIL, f"Python {version} ({sys.executable})", "use Python 3.11 or newer")
    tested = sys.version_info[:2] == (3, 11)
    return Check("python", OK if tested else WARN, f"Python {version} ({sys.executable})",
                 "" if tested else "the lock and CI are for Python 3.11; other versions are not tested")


def read_lock(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line of a lock file."""
    pins = {}
    for line in path.read_text("utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)", line)
        if match:
            pins[extras.normalise(match.group(1))] = match.group(2)
    return pins


def lock_path() -> Path | None:
    """The lock this environment should match: the GPU one where vLLM is installed."""
    root = extras.source_checkout()
    if root is None:
        return None
    return root / (extras.GPU_LOCK_FILE if extras.installed_version("vllm") else extras.LOCK_FILE)


def check_lock(path: Path | None = None) -> Check:
    path = path or lock_path()
    if path is None or not path.is_file():
        return Check("versions", INFO, "no lock beside the package (installed from a wheel): versions not compared")
    pins = read_lock(path)
    differ = [(name, installed, pinned) for name, pinned in sorted(pins.items())
              if (installed := extras.installed_version(name)) is not None and installed != pinned]
    present = sum(extras.installed_version(name) is not None for name in pins)
    if not differ:
        return Check("versions", OK, f"{present} installed distributions match {path.name}")
    shown = ", ".join(f"{name} {installed} (lock {pinned})" for name, installed, pinned in differ[:5])
    more = f" and {len(differ) - 5} more" if len(differ) > 5 else ""
    return Check("versions", WARN, f"{len(differ)} differ from {path.name}: {shown}{more}",
                 f"an untested combination; to get the tested one: pip install -e \"{path.parent}[dev]\" -c {path}")


def check_extras() -> Check:
    present, absent = [], []
    for extra in sorted(extras.extra_requirements()):
        if extra == "dev":
            continue
        (absent if extras.missing(extra) else present).append(extra)
    found = f"installed: {', '.join(present) or 'none'}; not installed: {', '.join(absent) or 'none'}"
    return Check("extras", OK if "eval" in present else INFO, found,
                 "" if "eval" in present else f"to evaluate: {extras.install_command(('eval',))}")


# ------------------------------------------------------------------- lmms-eval, torch, GPUs (child)


def _probe_lmms_eval(index_tasks: bool) -> dict:
    """Run in a child process: can lmms-eval evaluate here, does it see finebench's tasks, which GPUs."""
    report: dict = {}
    started = time.perf_counter()
    try:
        import lmms_eval.evaluator as evaluator

        # The code that filelock 4.3 broke runs after the model is loaded; run it now instead.
        getattr(evaluator, "_enable_reentrant_filelocks", lambda: None)()
        report["evaluator"] = {"ok": True, "seconds": round(time.perf_counter() - started, 1)}
    except Exception as error:  # any import failure is the finding
        report["evaluator"] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    if index_tasks and report["evaluator"]["ok"]:
        from lmms_eval.tasks import TaskManager

        from .taskgen import tasks_dir
        from .tasknames import all_names

        expected = set(all_names())
        indexed = set(TaskManager("ERROR").all_tasks)  # as plain `lmms-eval --tasks …` sees them (the shim)
        plain = expected <= indexed
        if not plain:
            indexed = set(TaskManager("ERROR", include_path=str(tasks_dir())).all_tasks)
        report["tasks"] = {"expected": len(expected), "missing": sorted(expected - indexed)[:5],
                           "missing_count": len(expected - indexed), "folder": str(tasks_dir()),
                           "plain_lmms_eval": plain, "names": sorted(indexed)}
    try:
        import torch

        report["torch"] = {"version": torch.__version__, "cuda_build": torch.version.cuda,
                           "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
                           if torch.cuda.is_available() else []}
    except Exception as error:
        report["torch"] = {"error": f"{type(error).__name__}: {error}"}
    return report


def _probe_encoder(name: str) -> dict:
    from finebench.scoring.encoders import load_encoder

    started = time.perf_counter()
    vector = load_encoder(name).embed(["a photo of a Laysan Albatross"])
    return {"dimensions": int(vector.shape[1]), "seconds": round(time.perf_counter() - started, 1)}


def run_probe(kind: str, argument: str, timeout: float, environment: dict | None = None) -> dict:
    """Run one probe in a child process; its JSON, or {"error": …} on a crash or when out of time."""
    command = [sys.executable, "-m", "finebench.harness.doctor", kind, argument]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(environment or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"no answer within {timeout:.0f} s"}
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit code {result.returncode}: {last[:300]}"}
    return json.loads(lines[-1])


def environment_key() -> str:
    """What the evaluator probe's answer depends on: this Python, every installed distribution's version,
    and finebench's own task names (an editable install changes them without a version)."""
    from importlib import metadata

    from .tasknames import all_names

    installed = sorted(f"{distribution.metadata['Name']}=={distribution.version}"
                       for distribution in metadata.distributions())
    return hashlib.sha256("\n".join([sys.executable, *installed, *all_names()]).encode()).hexdigest()[:16]


def evaluator_report(home: Path | None = None) -> dict:
    """The evaluator probe with lmms-eval's task index, remembered per environment under the home's
    cache: importing lmms-eval costs seconds and gives the same answer until something installed changes."""
    cached = (home or finebench_home()) / "cache" / f"lmms-eval-probe-{environment_key()}.json"
    return remembered(cached, lambda: run_probe("lmms-eval", "tasks", PROBE_TIMEOUT),
                      lambda report: report.get("evaluator", {}).get("ok"))


def remembered(cached: Path, probe: Callable[[], dict], keep: Callable[[dict], bool]) -> dict:
    """A slow probe's report, remembered in `cached` when `keep` says it may be. Processes that start at once
    (a worker per GPU) wait for the one probing, rather than all loading the same thing on the same cores and
    running out of time together; each then reads its report."""
    from finebench import atomic

    with contextlib.ExitStack() as held:
        if cached.is_file():
            return json.loads(cached.read_text("utf-8"))
        try:
            held.enter_context(atomic.exclusive(cached.with_name(cached.name + ".lock"), None))
        except OSError:  # an unwritable home is a check of its own; without the lock each process probes
            return probe()
        if cached.is_file():  # probed by the process this one waited for
            return json.loads(cached.read_text("utf-8"))
        report = probe()
        if keep(report):
            try:
                atomic.write_json(cached, report)
            except (OSError, FinebenchError):
                pass  # without the cache the probe just runs again
        return report


def lmms_eval_checks(report: dict, tasks_checked: bool) -> list[Check]:
    version = extras.installed_version("lmms-eval")
    if version is None:
        return [Check("lmms-eval", FAIL, "not installed", extras.install_command(("eval",)))]
    evaluator = report.get("evaluator") or {"ok": False, "error": report.get("error", "no report")}
    if not evaluator["ok"]:
        checks = [Check("lmms-eval", FAIL, f"lmms-eval {version}: its evaluator fails: {evaluator['error']}",
                        "install the tested versions: " + extras.install_command(("eval",)))]
    else:
        checks = [Check("lmms-eval", OK, f"lmms-eval {version}: the evaluator imports and sets up "
                                         f"({evaluator['seconds']} s)")]
    tasks = report.get("tasks")
    if tasks_checked and tasks is not None:
        if tasks["missing_count"]:
            checks.append(Check("tasks", FAIL, f"{tasks['missing_count']} of {tasks['expected']} finebench tasks "
                                               f"and groups not indexed by lmms-eval, e.g. {tasks['missing']}",
                                "reinstall finebench (its task YAMLs are package data): "
                                + extras.install_command(("eval",))))
        elif tasks["plain_lmms_eval"]:
            checks.append(Check("tasks", OK, f"all {tasks['expected']} finebench tasks and groups found by plain "
                                             "lmms-eval (through finebench's task shim)"))
        else:
            checks.append(Check("tasks", WARN, f"all {tasks['expected']} finebench tasks and groups indexed with "
                                               f"--include_path {tasks['folder']}, not by plain lmms-eval",
                                "use finebench eval, or pass lmms-eval that --include_path (the shim is off or this "
                                "lmms-eval version is untested)"))
    return checks


def gpu_checks(report: dict) -> list[Check]:
    torch_report = report.get("torch", {})
    if "error" in torch_report:
        return [Check("GPU", FAIL, f"torch does not import: {torch_report['error']}",
                      extras.install_command(("eval",)))]
    if not torch_report:
        return []
    gpus = torch_report["gpus"]
    cuda = f"CUDA {torch_report['cuda_build']} build" if torch_report["cuda_build"] else "CPU build"
    vllm = extras.installed_version("vllm")
    vllm_text = f"vLLM {vllm}" if vllm else "vLLM not installed (the hf backend works without it)"
    if gpus:
        return [Check("GPU", OK, f"{len(gpus)} × {gpus[0]}; torch {torch_report['version']} ({cuda}); {vllm_text}")]
    return [Check("GPU", INFO, f"no CUDA GPU; torch {torch_report['version']} ({cuda}); {vllm_text}",
                  "real models evaluate slowly on a CPU; the demo and the tests need no GPU")]


# ------------------------------------------------------------------------------- the text encoder


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co")


def hub_reachable(timeout: float = HUB_TIMEOUT) -> tuple[bool, str]:
    """Whether the model hub answers, decided in seconds (no retries): (reachable, why not)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False, "HF_HUB_OFFLINE is set"
    url = urlparse(hub_endpoint())
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)),
                                 timeout=timeout).close()
    except OSError as error:
        return False, f"{url.hostname} cannot be reached ({error.strerror or error})"
    return True, ""


def check_encoder(name: str | None = None, timeout: float = ENCODER_TIMEOUT,
                  hub: tuple[bool, str] | None = None) -> Check:
    """Whether the text encoder loads here; ``hub`` is hub_reachable()'s answer if already known."""
    from finebench.scoring.encoders import ENCODER_VARIABLE, selected_encoder_name

    selected = selected_encoder_name(name)
    reachable, why = hub or hub_reachable()
    # Offline, the hub's client would retry each download; tell it there is no hub, so a missing
    # model fails in seconds, as it will in the evaluation itself.
    report = run_probe("encoder", selected, timeout, None if reachable else {"HF_HUB_OFFLINE": "1"})
    where = "online" if reachable else f"offline: {why}"
    if "error" in report:
        return Check("text encoder", FAIL, f"{selected!r} does not load ({where}): {report['error']}",
                     f"choose one that loads here: --encoder minilm (or {ENCODER_VARIABLE}=minilm) works offline; "
                     f"or fetch {selected} into the Hugging Face cache on a machine with network")
    return Check("text encoder", OK, f"{selected!r} loads ({where}): {report['dimensions']} dimensions, "
                                     f"{report['seconds']} s")


# ----------------------------------------------------------------------------- data and storage


def _unit_problem(store: PreparedStore, name: str, record: dict, manifests: dict,
                  manifest=None) -> tuple[str, str] | None:
    """(status, what is wrong) for a prepared unit that is not as prepare left it, else None."""
    if PreparedStore.outdated(record):
        return FAIL, PreparedStore.outdated(record)
    spec = SPECS[record["dataset"], record["split"]]
    recorded = manifests.get(f"{name}.jsonl", {}).get("sha256")
    if recorded != spec.sha256:
        return FAIL, f"prepared from a manifest that is not the pinned one (sha256 {str(recorded)[:12]}…)"
    files = [*record["files"], record["lite"]["file"]]
    absent = [file for file in files if not (store.unit_dir(name) / file).is_file()]
    if absent:
        return FAIL, f"{len(absent)} of its files are gone, e.g. {store.unit_dir(name) / absent[0]}"
    if record["rows"] + len(record["missing"]) + len(record["unreadable"]) != spec.lines:
        return FAIL, f"{record['rows']} rows for {spec.lines} manifest lines"
    if record["missing"] or record["unreadable"]:
        return WARN, f"{len(record['missing'])} images missing and {len(record['unreadable'])} unreadable " \
                     "(prepared with --allow-missing): its scores cover fewer lines"
    if not Path(record["archive_root"]).is_dir():
        return INFO, "its archive folder is not reachable from here (the prepared data is self-contained)"
    if manifest is not None and _archive_changed(record, manifest):
        return WARN, "images in its archive folder changed since it was prepared"
    return None


def _archive_changed(record: dict, manifest) -> bool:
    """Whether the unit's images were replaced, added or removed since prepare stat-ed them."""
    from finebench.data.prepare import plan_unit

    return plan_unit(manifest, Path(record["archive_root"]), record["label_check"]).fingerprint != record["fingerprint"]


def manifests_at_hand() -> dict:
    """The manifests when they can be read without a download (for the archive re-check), else {}."""
    from finebench.data.manifests import load_manifests

    try:
        return load_manifests(download=False)
    except FinebenchError:
        return {}


def check_prepared(units: Iterable[str] | None = None, home: Path | None = None,
                   against_archives: bool = False) -> list[Check]:
    """One row per prepared (dataset, split) unit, or per wanted unit when ``units`` is given;
    with ``against_archives``, each unit's images are stat-ed again where the manifests are at hand.
    With FINEBENCH_DATA set, the tasks read that shared copy: it is what is checked."""
    from finebench.data.sharing import DATA_VARIABLE, data_location, shared_data

    if (location := data_location()) is not None:
        return check_shared(location, units, DATA_VARIABLE, shared_data)
    store = PreparedStore(prepared_dir(home))
    try:
        metadata = store.read_metadata()
    except FinebenchError as error:
        return [Check("prepared data", FAIL, error.problem, error.fix or "")]
    recorded = metadata["units"]
    wanted = sorted(units) if units is not None else sorted(recorded)
    if not wanted:
        return [Check("prepared data", FAIL, f"nothing prepared under {store.root}",
                      f"run `{prepare_command()}` (or `finebench demo` for stand-ins)")]
    absent = [name for name in wanted if name not in recorded]
    checks = []
    if absent:
        datasets = sorted({name.rsplit("_", 1)[0] for name in absent})
        checks.append(Check("prepared data", FAIL, f"{len(absent)} unit{'s' if len(absent) > 1 else ''} not prepared "
                                                   f"under {store.root}: {', '.join(absent)}",
                            f"run `{prepare_command(*datasets)}`"))
    at_hand = manifests_at_hand() if against_archives else {}
    for name in wanted:
        record = recorded.get(name)
        if record is None:
            continue
        summary = (f"{record['rows']:,} rows, lite {record['lite']['rows']}, from {record['archive_root']} "
                   f"(labels {record['label_check']}, {record['prepared_at'][:10]})")
        problem = _unit_problem(store, name, record, metadata["manifests"],
                                at_hand.get((record["dataset"], record["split"])))
        if problem is None:
            checks.append(Check(f"prepared {name}", OK, summary))
        else:
            status, text = problem
            fix = f"run `{prepare_command(record['dataset'])}` again" if status != INFO else ""
            checks.append(Check(f"prepared {name}", status, f"{summary}: {text}", fix))
    return checks


def check_shared(location: str, units: Iterable[str] | None, variable: str, opener) -> list[Check]:
    try:
        shared = opener(location)
    except FinebenchError as error:
        return [Check(f"prepared data ({variable})", FAIL, error.problem, error.fix or "")]
    recorded = shared.metadata["units"]
    absent = sorted(set(units or ()) - set(recorded))
    if absent:
        return [Check(f"prepared data ({variable})", FAIL, f"{shared.described} lacks {', '.join(absent)}",
                      f"prepare and push them, or unset {variable} to read the local prepared data")]
    return [Check(f"prepared {name}", OK, f"{recorded[name]['rows']:,} rows in {shared.described} (checked)")
            for name in sorted(units if units is not None else recorded)]


def check_fewshot(home: Path | None = None) -> Check:
    path = fewshot_dir(home) / METADATA_FILE
    sets = json.loads(path.read_text("utf-8")) if path.is_file() else {}
    if not sets:
        return Check("few-shot sets", INFO, f"none under {fewshot_dir(home)} (the trainer and in-context tasks "
                                            "need them)", "finebench prepare writes them, or finebench fewshot")
    roots = sorted({record["archive_root"] for record in sets.values()})
    where = roots[0] if len(roots) == 1 else f"{len(roots)} archive folders under {os.path.commonpath(roots)}"
    return Check("few-shot sets", OK, f"{len(sets)} sets from {where}")


def check_writable_folder(name: str, folder: Path, setting: str = HOME_VARIABLE) -> Check:
    """A folder finebench must write into: writable (or creatable: doctor creates nothing), with room.
    ``setting`` is what chooses the folder (a variable or an option), for the fix."""
    existing = next((parent for parent in (folder, *folder.parents) if parent.exists()), Path("/"))
    if not existing.is_dir():
        return Check(name, FAIL, f"{existing} is a file, where {folder} should be a folder", "choose another path")
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".finebench-doctor-"):
            pass
    except OSError as error:
        return Check(name, FAIL, f"{existing} is not writable ({error.strerror or error})",
                     f"fix its permissions, or point {setting} at a folder you can write")
    free = shutil.disk_usage(existing).free
    found = f"{folder}, {'writable' if existing == folder else 'to be created'}, {free / 2**30:.1f} GiB free"
    if free < MIN_FREE_BYTES:
        return Check(name, FAIL, found, f"free some space, or point {setting} at a larger disk")
    if free < LOW_FREE_BYTES:
        return Check(name, WARN, found, "the benchmark prepared from the real archives takes a few GiB")
    return Check(name, OK, found)


def check_storage(name: str, location: str, setting: str) -> Check:
    """A leaderboard location (queue or results): a folder, or a Hugging Face dataset repository."""
    from finebench.locations import hub_repository

    try:
        repository = hub_repository(location, setting)
    except FinebenchError as error:
        return Check(name, FAIL, error.problem, error.fix)
    if repository is None:
        return check_writable_folder(name, Path(location).expanduser(), setting)
    if extras.installed_version("huggingface-hub") is None:
        return Check(name, FAIL, f"{location} needs huggingface_hub", extras.install_command(("leaderboard",)))
    reachable, why = hub_reachable()
    if not reachable:
        return Check(name, FAIL, f"{location} cannot be reached: {why}", "run where the Hub is reachable")
    from huggingface_hub import HfApi

    try:
        info = HfApi().dataset_info(repository, timeout=HUB_TIMEOUT)
    except Exception as error:  # not found, no token, no permission: each is the finding
        return Check(name, FAIL, f"{location}: {type(error).__name__}: {str(error)[:200]}",
                     "create the dataset repository, or log in with a token that can write it (hf auth login)")
    return Check(name, OK, f"{location} at {info.sha[:12]}")


def diagnose(encoder: str | None = None, timeout: float = PROBE_TIMEOUT,
             locations: Sequence[tuple[str, str, str]] = ()) -> list[Check]:
    """Every check, the slow ones in two child processes that run at the same time. ``locations``:
    (name, folder or hf:// address, the setting that chooses it) of the leaderboard's storage."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        lmms_eval = pool.submit(run_probe, "lmms-eval", "tasks", timeout)
        text_encoder = pool.submit(check_encoder, encoder, min(timeout, ENCODER_TIMEOUT))
        checks = [check_python(), check_lock(), check_extras()]
        report = lmms_eval.result() if extras.installed_version("lmms-eval") else {}
        checks += lmms_eval_checks(report, tasks_checked=True)
        checks += gpu_checks(report)
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


def encoder_check(encoder: str | None, home: Path | None, reachable: bool, why: str) -> Check:
    """check_encoder, a success remembered per environment, encoder and hub access (a load costs seconds)."""
    from finebench.scoring.encoders import selected_encoder_name

    selected = selected_encoder_name(encoder)
    slug = hashlib.sha256(f"{environment_key()}:{selected}:{reachable}".encode()).hexdigest()[:16]
    cached = (home or finebench_home()) / "cache" / f"encoder-probe-{slug}.json"
    report = remembered(cached, lambda: asdict(check_encoder(encoder, hub=(reachable, why))),
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
        report = pool.submit(evaluator_report, home)
        text_encoder = pool.submit(encoder_check, encoder, home, reachable, why) if selection and \
            open_world_selected(selection) and extras.installed_version("lmms-eval") else None
        report = report.result()
        checks += lmms_eval_checks(report, tasks_checked=False)
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
    from .evalrun import option_value

    started = time.perf_counter()
    tasks, output = option_value(arguments, "--tasks"), option_value(arguments, "--output_path")
    variables = require_preflight(what, tasks, Path(output) if output else None, home, encoder)
    print(f"finebench {what}: preflight passed in {time.perf_counter() - started:.1f} s (lmms-eval's evaluator, "
          "the text encoder, the prepared data of the selected tasks, the output folder)", file=sys.stderr)
    return variables


def render(checks: Sequence[Check]) -> str:
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        found = " ".join(check.found.split())  # a library's message may span lines
        lines.append(f"{MARKS[check.status]} {check.name:<{width}}  {found}")
        if check.fix and check.status in (FAIL, WARN):
            lines.append(f"  {'':<{width}}  fix: {check.fix}")
    blockers = sum(check.blocks for check in checks)
    lines.append(f"\n{blockers} blocker{'s' if blockers != 1 else ''}" if blockers else "\nno blockers")
    return "\n".join(lines)


def as_json(checks: Sequence[Check]) -> str:
    return json.dumps({"blockers": sum(check.blocks for check in checks),
                       "checks": [asdict(check) for check in checks]}, indent=2, ensure_ascii=False)


def _probe_main(arguments: Sequence[str]) -> None:
    kind, argument = arguments
    try:
        report = _probe_lmms_eval(argument == "tasks") if kind == "lmms-eval" else _probe_encoder(argument)
    except FinebenchError as error:
        report = {"error": error.problem}
    except Exception as error:  # the child's whole job is to turn failures into findings
        report = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
    print(json.dumps(report))


if __name__ == "__main__":
    _probe_main(sys.argv[1:])
