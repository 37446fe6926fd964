"""The leaderboard's settings, read from the environment in one place (no import-time side effects)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from finebench.home import finebench_home, leaderboard_cache_dir
from finebench.locations import hub_repository


def _list(variable: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(variable, "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    results: tuple[str, ...]  # where entries are published (the first) and read, besides the bundled reported/
    queue: str  # each location a local folder, or hf://datasets/<owner>/<name> for a Hugging Face dataset
    runs_dir: Path  # per-request evaluation output and logs
    allow_custom_code: tuple[str, ...] = ()  # models allowed to ship code (trust_remote_code)
    local_model_roots: tuple[Path, ...] = ()  # where local checkpoints may be submitted from
    max_model_bytes: int = 40 * 2**30
    stale_after_seconds: int = 600  # a RUNNING request whose heartbeat is older goes back to PENDING
    cache: Path | None = None  # entries read from the results locations, kept between starts (None: not kept)


QUEUE_VARIABLE = "FINEBENCH_QUEUE"
RESULTS_VARIABLE = "FINEBENCH_LEADERBOARD_RESULTS"
CACHE_VARIABLE = "FINEBENCH_LEADERBOARD_CACHE"  # default: $FINEBENCH_HOME/leaderboard-cache


def load_settings() -> Settings:
    queue, results = _locations()
    return Settings(
        results=tuple(_location(location, RESULTS_VARIABLE) for location in results),
        queue=_location(queue, QUEUE_VARIABLE),
        runs_dir=Path(os.environ.get("FINEBENCH_RUNS", str(finebench_home() / "runs"))).expanduser(),
        allow_custom_code=_list("FINEBENCH_ALLOW_CUSTOM_CODE"),
        local_model_roots=tuple(Path(path).expanduser() for path in _list("FINEBENCH_LOCAL_MODEL_ROOTS")),
        max_model_bytes=int(float(os.environ.get("FINEBENCH_MAX_MODEL_GB", "40")) * 2**30),
        stale_after_seconds=int(os.environ.get("FINEBENCH_STALE_SECONDS", "600")),
        cache=Path(os.environ.get(CACHE_VARIABLE) or leaderboard_cache_dir()).expanduser(),
    )


def _locations() -> tuple[str, tuple[str, ...]]:
    """The queue's and the results' locations as set, not yet checked."""
    home = finebench_home()
    return (os.environ.get(QUEUE_VARIABLE, str(home / "queue")),
            _list(RESULTS_VARIABLE) or (str(home / "results"),))


def _location(location: str, variable: str) -> str:
    """A folder (expanded) or an hf://datasets/<owner>/<name> address; anything else is refused here, at start."""
    return location if hub_repository(location, variable) else str(Path(location).expanduser())


def storage_locations() -> list[tuple[str, str, str]]:
    """(name, location as set, the variable that sets it) of the queue and each results location, for doctor
    (which reports a malformed one as a failed check)."""
    queue, results = _locations()
    return [("queue", queue, QUEUE_VARIABLE), *(("results", location, RESULTS_VARIABLE) for location in results)]
