"""The leaderboard's settings, read from the environment in one place (no import-time side effects)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from finebench.home import finebench_home


def _list(variable: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in os.environ.get(variable, "").split(",") if part.strip())


@dataclass(frozen=True)
class Settings:
    results_dirs: tuple[Path, ...]  # published entries, besides the bundled reported/ folder
    queue: str  # a local folder, or hf://datasets/<owner>/<name> for a Hugging Face dataset repository
    runs_dir: Path  # per-request evaluation output and logs
    allow_custom_code: tuple[str, ...] = ()  # models allowed to ship code (trust_remote_code)
    local_model_roots: tuple[Path, ...] = ()  # where local checkpoints may be submitted from
    max_model_bytes: int = 40 * 2**30
    stale_after_seconds: int = 600  # a RUNNING request whose heartbeat is older goes back to PENDING


QUEUE_VARIABLE = "FINEBENCH_QUEUE"
RESULTS_VARIABLE = "FINEBENCH_LEADERBOARD_RESULTS"


def load_settings() -> Settings:
    home = finebench_home()
    results = _list(RESULTS_VARIABLE) or (str(home / "results"),)
    remote = [location for location in results if "://" in location]
    if remote:  # never a local folder named "hf:" in its place
        from finebench.errors import FinebenchError

        raise FinebenchError(f"{RESULTS_VARIABLE} names {remote[0]!r}: published entries live in local folders only "
                             "for now (the queue can be a Hub dataset, the results not yet)",
                             f"set {RESULTS_VARIABLE} to a folder (a mounted or synced one for a Space)")
    return Settings(
        results_dirs=tuple(Path(path).expanduser() for path in results),
        queue=os.environ.get(QUEUE_VARIABLE, str(home / "queue")),
        runs_dir=Path(os.environ.get("FINEBENCH_RUNS", str(home / "runs"))).expanduser(),
        allow_custom_code=_list("FINEBENCH_ALLOW_CUSTOM_CODE"),
        local_model_roots=tuple(Path(path).expanduser() for path in _list("FINEBENCH_LOCAL_MODEL_ROOTS")),
        max_model_bytes=int(float(os.environ.get("FINEBENCH_MAX_MODEL_GB", "40")) * 2**30),
        stale_after_seconds=int(os.environ.get("FINEBENCH_STALE_SECONDS", "600")),
    )


def storage_locations() -> list[tuple[str, str, str]]:
    """(name, location, the variable that sets it) of the queue and each results folder, for doctor."""
    settings = load_settings()
    return [("queue", settings.queue, QUEUE_VARIABLE),
            *(("results", str(folder), RESULTS_VARIABLE) for folder in settings.results_dirs)]
