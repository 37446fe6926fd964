"""Checks of the Python environment: the interpreter, the installed versions against the lock, the extras."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from finebench import extras

from .check import FAIL, INFO, OK, WARN, Check


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
