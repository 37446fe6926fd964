"""Writes that either happen completely or not at all.

Every file finebench produces is written to a temporary name in the destination's own
folder and renamed over the destination, so a crash, a full disk or Ctrl-C never leaves
a half-written file where a reader would find it. The temporary file gets the mode an
ordinary ``open()`` would have given (0666 less the umask), not mkstemp's private 0600,
so a FINEBENCH_HOME shared by a team stays readable by it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from finebench.errors import FinebenchError


def _disk_full_error(path: Path) -> FinebenchError:
    free = shutil.disk_usage(path.parent if path.parent.exists() else Path.cwd()).free
    return FinebenchError(
        f"disk full while writing {path} ({free / 2**30:.2f} GiB free); nothing already "
        "prepared was changed",
        "free some space or point FINEBENCH_HOME at a larger disk, then run the same "
        "command again: it resumes where it stopped",
    )


def current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (os.umask can only set)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore at once
    os.umask(mask)
    return mask


def new_file_mode() -> int:
    """The mode open() gives a new file: what the user's other tools and colleagues expect."""
    return 0o666 & ~current_umask()


def temporary_file_beside(folder: Path, name: str, suffix: str) -> tuple[int, Path]:
    """mkstemp in ``folder`` (unique, exclusive), with the umask's mode instead of 0600."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=folder)
    os.fchmod(fd, new_file_mode())
    return fd, Path(tmp_name)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    On any exception the temporary file is removed and ``path`` is left as it was.
    A full disk is turned into a FinebenchError that says so.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = temporary_file_beside(path.parent, path.name, ".tmp")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise _disk_full_error(path) from error
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, value: object) -> None:
    write_text(path, json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def exclusive(lock_file: Path, busy: FinebenchError | None) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` for the block, or raise ``busy`` at once if another
    process holds it (busy None: wait for it). The kernel drops the lock when its holder dies, however it dies."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if busy is None else fcntl.LOCK_NB))
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def replace_directory(staging: Path, final: Path) -> None:
    """Put the finished folder ``staging`` in place of ``final``.

    Two renames cannot be one atomic step, so the old folder is first moved to a
    ``.previous`` name that :func:`recover_directory` puts back if a crash falls between
    them; readers therefore see the old complete folder or the new complete folder.
    """
    previous = final.with_name(final.name + ".previous")
    if previous.exists():
        shutil.rmtree(previous)
    if final.exists():
        os.replace(final, previous)
    os.replace(staging, final)
    shutil.rmtree(previous, ignore_errors=True)


def recover_directory(final: Path) -> None:
    """Undo a :func:`replace_directory` that was cut off between its two renames."""
    previous = final.with_name(final.name + ".previous")
    if previous.exists() and not final.exists():
        os.replace(previous, final)
    elif previous.exists():
        shutil.rmtree(previous, ignore_errors=True)
