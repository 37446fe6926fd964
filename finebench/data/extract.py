"""Unpacking a verified tar archive into a folder, refusing any member that would land outside it.

tarfile's ``data`` filter (PEP 706) refuses absolute paths, ``..``, links that point out of the
target, and device files. Members are unpacked into a staging folder beside the target first and
moved in only when the whole archive went well, so a refused or interrupted archive leaves nothing
behind that looks extracted.
"""

from __future__ import annotations

import os
import shutil
import tarfile
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError

STAGING_PREFIX = ".extracting-"


def extract(archive: Path, target: Path) -> list[str]:
    """Unpack ``archive`` into ``target``; return the top-level names it put there (each replaced whole)."""
    staging = target / f"{STAGING_PREFIX}{archive.name}"
    shutil.rmtree(staging, ignore_errors=True)  # what a killed run left
    staging.mkdir(parents=True)
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(staging, filter="data")
    except tarfile.FilterError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise FinebenchError(f"{archive}: refused, a member would be written outside {target} ({error})",
                             "this is not the archive its authors distribute; delete it and download it again "
                             "from the official source") from None
    except (tarfile.TarError, EOFError, OSError) as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise FinebenchError(f"{archive}: cannot be unpacked ({error})",
                             f"delete {archive} and run the same command again to fetch it anew") from None
    names = sorted(os.listdir(staging))
    for name in names:
        _move_in(staging / name, target / name)
    staging.rmdir()
    return names


def _move_in(source: Path, destination: Path) -> None:
    if source.is_dir() and not source.is_symlink():
        atomic.replace_directory(source, destination)
    else:
        if destination.is_dir() and not destination.is_symlink():
            shutil.rmtree(destination)
        os.replace(source, destination)


def recover(target: Path) -> None:
    """Drop staging folders of extractions cut short, and finish interrupted folder swaps."""
    if not target.is_dir():
        return
    for staging in target.glob(f"{STAGING_PREFIX}*"):
        shutil.rmtree(staging, ignore_errors=True)
    for previous in target.glob("*.previous"):
        atomic.recover_directory(previous.with_name(previous.name.removesuffix(".previous")))
