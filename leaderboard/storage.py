"""Where queue requests and published entries live: a local folder or a Hugging Face dataset repo.

Both offer the same operations; `create` must refuse to overwrite, which is what makes
concurrent submissions and claims safe (O_EXCL locally; a commit on the repository's current
revision that fails when someone else committed first on the Hub). Locations are parsed by
finebench.locations.
"""

from __future__ import annotations

import os
import random
import time
from abc import ABC, abstractmethod
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.locations import HUB_PREFIX, hub_repository

CREATE_ATTEMPTS = 20  # conditional commits tried before a busy Hub repository is reported
REACH_TIMEOUT = 20  # seconds for the Hub to answer whether a repository exists


class AlreadyExists(Exception):
    pass


class Storage(ABC):
    @abstractmethod
    def list(self, folder: str) -> list[str]:
        """Names of the files in folder."""

    @abstractmethod
    def read(self, path: str, revision: str | None = None) -> bytes:
        """The file's bytes: now, or at `revision` (a revision `versions` gave)."""

    @abstractmethod
    def versions(self, folder: str) -> tuple[str | None, dict[str, str]]:
        """(the revision the listing was taken at, None for a folder; name -> a token that changes whenever the
        file's bytes do) of the files in folder: what a reader compares to read again only what changed."""

    @abstractmethod
    def write(self, path: str, data: bytes) -> None:
        """Create or replace, atomically."""

    @abstractmethod
    def create(self, path: str, data: bytes) -> None:
        """Create; raise AlreadyExists if the file exists."""

    def describe(self, path: str) -> str:
        return path

    def reach(self) -> None:
        """Raise FinebenchError unless the location can be read now (a folder not made yet is an empty one)."""


class LocalStorage(Storage):
    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser()

    def list(self, folder: str) -> list[str]:
        directory = self.root / folder
        return sorted(p.name for p in directory.iterdir() if p.is_file() and not p.name.startswith(".")) \
            if directory.is_dir() else []

    def read(self, path: str, revision: str | None = None) -> bytes:
        return (self.root / path).read_bytes()

    def versions(self, folder: str) -> tuple[str | None, dict[str, str]]:
        found = {}
        for name in self.list(folder):
            try:
                status = (self.root / folder / name).stat()
            except FileNotFoundError:  # removed since the listing
                continue
            found[name] = f"{status.st_size}:{status.st_mtime_ns}:{status.st_ino}"  # an atomic write changes all
        return None, found

    def write(self, path: str, data: bytes) -> None:
        atomic.write_bytes(self.root / path, data)

    def create(self, path: str, data: bytes) -> None:
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, staged = atomic.temporary_file_beside(target.parent, target.name, ".new")
        with os.fdopen(handle, "wb") as staged_file:
            staged_file.write(data)
        try:
            os.link(staged, target)  # atomic and exclusive: fails if the target exists
        except FileExistsError:
            raise AlreadyExists(path) from None
        finally:
            staged.unlink(missing_ok=True)

    def describe(self, path: str) -> str:
        return str(self.root / path)


class HubStorage(Storage):
    """A Hugging Face dataset repository, through huggingface_hub (the Open LLM Leaderboard's convention)."""

    def __init__(self, repo_id: str, api=None, token: str | None = None):
        if api is None:
            from huggingface_hub import HfApi

            api = HfApi(token=token)
        self.api, self.repo_id = api, repo_id
        self._listed: dict[str, tuple[str, dict[str, str]]] = {}  # folder -> (head, name -> blob id)

    def list(self, folder: str) -> list[str]:
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        files = self.api.list_repo_files(self.repo_id, repo_type="dataset")
        return sorted(f[len(prefix):] for f in files if f.startswith(prefix) and "/" not in f[len(prefix):])

    def read(self, path: str, revision: str | None = None) -> bytes:
        # At a commit a file never changes, so the client's cache may serve it; the branch's head must be asked.
        local = self.api.hf_hub_download(self.repo_id, path, repo_type="dataset", revision=revision,
                                         force_download=revision is None)
        return Path(local).read_bytes()

    def versions(self, folder: str) -> tuple[str | None, dict[str, str]]:
        """Two requests: the head commit, then (only when it moved since the last call) the folder's listing with
        each file's blob id, which is a hash of its bytes."""
        from huggingface_hub.hf_api import RepoFile

        head = self.api.dataset_info(self.repo_id).sha
        if self._listed.get(folder, (None,))[0] != head:
            entries = self.api.list_repo_tree(self.repo_id, path_in_repo=folder.strip("/") or None,
                                              repo_type="dataset", revision=head)
            prefix = folder.strip("/") + "/" if folder.strip("/") else ""
            self._listed[folder] = (head, {entry.path[len(prefix):]: entry.blob_id for entry in entries
                                           if isinstance(entry, RepoFile)})
        return head, dict(self._listed[folder][1])

    def _commit(self, path: str, data: bytes, parent: str | None) -> None:
        from huggingface_hub import CommitOperationAdd

        self.api.create_commit(self.repo_id, repo_type="dataset", parent_commit=parent,
                               operations=[CommitOperationAdd(path_in_repo=path, path_or_fileobj=data)],
                               commit_message=f"finebench: {path}")

    def write(self, path: str, data: bytes) -> None:
        self._commit(path, data, None)

    def create(self, path: str, data: bytes, attempts: int = CREATE_ATTEMPTS) -> None:
        """A commit conditioned on the head it was checked against: if the repository moved on meanwhile
        (another worker's commit, of this file or any other), look again and retry. One limit, from the client:
        a file whose bytes equal the ones just committed by another is dropped from the commit as unchanged,
        without a request, so two creators of identical bytes would both succeed; what this queue creates never
        is identical (a lease names its worker and time, a request its submission time and contact)."""
        for attempt in range(attempts):
            head = self.api.dataset_info(self.repo_id).sha
            if path in self.api.list_repo_files(self.repo_id, repo_type="dataset", revision=head):
                raise AlreadyExists(path)
            try:
                self._commit(path, data, head)  # refused if the repository moved on since `head`
                return
            except Exception as error:  # the Hub answers a moved head with an HTTP error (412)
                if path in self.api.list_repo_files(self.repo_id, repo_type="dataset"):
                    raise AlreadyExists(path) from error
                if attempt == attempts - 1:
                    raise
                time.sleep(random.uniform(0.05, 0.5) * (attempt + 1))  # spread the retries of racing workers

    def describe(self, path: str) -> str:
        return f"https://huggingface.co/datasets/{self.repo_id}/blob/main/{path}"

    def reach(self) -> None:
        try:
            self.api.dataset_info(self.repo_id, timeout=REACH_TIMEOUT)
        except Exception as error:  # offline, not found, no permission: each is the finding, said as it is
            raise FinebenchError(f"{HUB_PREFIX}{self.repo_id} cannot be reached: {type(error).__name__}: "
                                 f"{str(error).strip()[:300]}",
                                 "check the network, the repository's name and a token that can read and write it "
                                 "(HF_TOKEN or hf auth login); nothing is read from or written to a folder instead"
                                 ) from None


def open_storage(location: str | Path, setting: str = "the location") -> Storage:
    repository = hub_repository(location, setting)
    return LocalStorage(location) if repository is None else HubStorage(repository)
