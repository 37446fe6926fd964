"""Checks of where finebench writes: a folder (writable, with room) and the leaderboard's locations (a folder,
or a Hugging Face dataset repository that answers)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from finebench import extras
from finebench.errors import FinebenchError
from finebench.home import HOME_VARIABLE

from .check import FAIL, OK, WARN, Check
from .encoder import HUB_TIMEOUT, hub_reachable

MIN_FREE_BYTES = 2**29  # below half a GiB a run cannot even write its samples
LOW_FREE_BYTES = 5 * 2**30  # the prepared benchmark from the real archives takes a few GiB


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
