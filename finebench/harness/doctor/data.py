"""Checks of the data an evaluation reads: the prepared units (or the shared copy FINEBENCH_DATA names), as
prepare left them and against their archives, and the few-shot sets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

from finebench.data.manifests import SPECS
from finebench.data.store import METADATA_FILE, PreparedStore, prepare_command
from finebench.errors import FinebenchError
from finebench.home import fewshot_dir, prepared_dir

from .check import FAIL, INFO, OK, WARN, Check


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
