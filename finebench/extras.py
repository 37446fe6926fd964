"""Which optional parts of finebench are installed, and the one-line fix when one is not.

The extras are declared once, in pyproject.toml; this module reads them back from the
installed distribution's metadata (``Requires-Dist: gradio>=6.0; extra == "leaderboard"``),
so a command can say "needs the 'leaderboard' extra" before it imports anything, instead
of dying on ``No module named 'gradio'`` halfway through.
"""

from __future__ import annotations

import functools
import re
from importlib import metadata
from pathlib import Path

from finebench.errors import FinebenchError

DISTRIBUTION = "finebench"
LOCK_FILE = "constraints.txt"  # the lock of the tested environment, at the root of a source checkout
GPU_LOCK_FILE = "constraints-gpu.txt"  # the GPU extras (vLLM pins its own torch)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def normalise(name: str) -> str:
    """PEP 503: 'Sentence_Transformers' and 'sentence-transformers' are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


@functools.lru_cache(maxsize=1)
def extra_requirements() -> dict[str, tuple[str, ...]]:
    """Extra -> the distributions it adds, with extras that name other extras (dev) expanded."""
    direct: dict[str, list[str]] = {}
    nested: dict[str, list[str]] = {}
    for requirement in metadata.requires(DISTRIBUTION) or ():
        marker = _EXTRA_MARKER.search(requirement)
        match = _REQUIREMENT.match(requirement)
        if not marker or not match:
            continue
        extra, name = marker.group(1), normalise(match.group(1))
        if name == DISTRIBUTION:  # dev = finebench[eval,clip,…]
            nested.setdefault(extra, []).extend(part.strip() for part in (match.group(2) or "").split(","))
        else:
            direct.setdefault(extra, []).append(name)

    def expand(extra: str, seen: frozenset = frozenset()) -> list[str]:
        names = list(direct.get(extra, ()))
        for inner in nested.get(extra, ()):
            if inner not in seen:
                names += expand(inner, seen | {extra})
        return names

    return {extra: tuple(dict.fromkeys(expand(extra))) for extra in {*direct, *nested}}


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def missing(extra: str) -> list[str]:
    """The distributions of ``extra`` that are not installed."""
    requirements = extra_requirements()
    if extra not in requirements:
        raise KeyError(f"finebench declares no extra {extra!r} (it has {', '.join(sorted(requirements))})")
    return [name for name in requirements[extra] if installed_version(name) is None]


def source_checkout() -> Path | None:
    """The project folder when finebench runs from a clone (an editable install), else None."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / LOCK_FILE).is_file() else None


def install_command(extras: tuple[str, ...] | list[str]) -> str:
    """The command that adds extras: from the clone with its lock, or from the package index."""
    selection = ",".join(extras)
    root = source_checkout()
    if root is None:
        return f"pip install 'finebench[{selection}]'"
    lock = GPU_LOCK_FILE if {"vllm", "deepspeed"} & set(extras) else LOCK_FILE
    return f'pip install -e "{root}[{selection}]" -c {root / lock}'


def require(extras: tuple[str, ...]) -> None:
    """Refuse to start a command when an extra it needs is missing, naming the extra and the fix
    (the CLI puts the command's name before the message)."""
    absent = {extra: names for extra in extras if (names := missing(extra))}
    if absent:
        needed = " and ".join(f"'{extra}'" for extra in absent)
        names = sorted({name for names in absent.values() for name in names})
        raise FinebenchError(
            f"needs the {needed} extra{'s' if len(absent) > 1 else ''} "
            f"({', '.join(names[:6])}{' …' if len(names) > 6 else ''} not installed)",
            install_command(tuple(absent)),
        )
