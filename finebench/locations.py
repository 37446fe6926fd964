"""Where the leaderboard keeps its queue and its entries: a folder, or exactly
hf://datasets/<owner>/<name> (a Hugging Face dataset repository). Any other address is refused,
never taken for a folder with a similar name (a folder named "hf:" once received the entries).
A foundation: the leaderboard opens these locations, and doctor checks them."""

from __future__ import annotations

from pathlib import Path

from finebench.errors import FinebenchError

HUB_PREFIX = "hf://datasets/"


def hub_repository(location: str | Path, setting: str = "the location") -> str | None:
    """The <owner>/<name> of an hf://datasets/ location, None for a folder; any other address is refused."""
    location = str(location)
    if "://" not in location:
        return None
    repository = location.removeprefix(HUB_PREFIX).strip("/")
    parts = repository.split("/")
    if repository == location.strip("/") or len(parts) != 2 or not all(_repo_name_part(part) for part in parts):
        raise FinebenchError(f"{setting} names {location!r}, which is neither a folder nor "
                             f"{HUB_PREFIX}<owner>/<name>", f"correct {setting}")
    return repository


def _repo_name_part(part: str) -> bool:
    return bool(part) and all(c.isalnum() or c in "-_." for c in part) and ".." not in part
