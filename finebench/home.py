"""Where finebench keeps its files: the one place that knows FINEBENCH_HOME.

Task YAMLs, the CLI and the trainers all ask this module, so moving the data is a
matter of setting one environment variable.
"""

from __future__ import annotations

import os
from pathlib import Path

HOME_VARIABLE = "FINEBENCH_HOME"
DEFAULT_HOME = Path("~/.cache/finebench")
PROBES_VARIABLE = "FINEBENCH_PROBE_CACHE"


def finebench_home() -> Path:
    return Path(os.environ.get(HOME_VARIABLE) or DEFAULT_HOME).expanduser()


def manifests_dir(home: Path | None = None) -> Path:
    """Downloaded official manifests."""
    return (home or finebench_home()) / "manifests"


def prepared_dir(home: Path | None = None) -> Path:
    """One parquet folder per (dataset, split), the lite subset and metadata.json."""
    return (home or finebench_home()) / "prepared"


def fewshot_dir(home: Path | None = None) -> Path:
    """k-shot training sets drawn from the official train splits."""
    return (home or finebench_home()) / "fewshot"


def archives_dir(home: Path | None = None) -> Path:
    """Where `finebench download` puts the datasets' files when no --to is given."""
    return (home or finebench_home()) / "archives"


def leaderboard_cache_dir(home: Path | None = None) -> Path:
    """The entries the leaderboard read from each results location, kept between its starts."""
    return (home or finebench_home()) / "leaderboard-cache"


def probe_cache_dir() -> Path:
    """The slow probes' remembered answers (lmms-eval's evaluator, the text encoder): they depend on the
    installed environment, not on the data, so one folder per user serves every FINEBENCH_HOME (the demo's own,
    a lab's several) and an environment is probed once. ``$FINEBENCH_PROBE_CACHE``, else the user's cache."""
    default = Path(os.environ.get("XDG_CACHE_HOME") or "~/.cache") / "finebench-probes"
    return Path(os.environ.get(PROBES_VARIABLE) or default).expanduser()
