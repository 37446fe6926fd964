"""Prepare once, read everywhere: the prepared folder pushed to a shared place, pulled from it, or read
in place by the tasks (FINEBENCH_DATA), always checked against its metadata.json first.

A shared copy is the prepared folder's unit files and its metadata.json, with a "shared" section that
``push`` adds: every file's size and sha256, and the option-order rule the rows were made with. Where:

    hf://datasets/<owner>/<name>[@<revision>]   a Hugging Face dataset repository (private by default);
                                                pushed in one commit, read at a pinned commit
    any fsspec URL (file://, s3://, …) or folder  files first, metadata.json last

Reading checks that the copy is the benchmark this finebench evaluates: its data format, each unit's
manifest sha256 and line count against the pinned manifests, rows + missing + unreadable = manifest
lines, the option-order rule, and every listed file present at its recorded size; ``pull`` also checks
every file's sha256 before it replaces anything local. A node therefore never evaluates a partial or
a different benchmark.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from finebench.errors import FinebenchError
from finebench.home import prepared_dir
from finebench.locations import HUB_PREFIX

from .manifests import SPECS, sha256_of
from .options import OPTION_ORDER
from .store import FORMAT_VERSION, METADATA_FILE, PreparedStore

DATA_VARIABLE = "FINEBENCH_DATA"


def shared_files(metadata: dict) -> Iterator[tuple[str, str]]:
    """(unit, path relative to the prepared folder) of every file a unit's record names."""
    for name, record in sorted(metadata["units"].items()):
        for file in (*record["files"], record["lite"]["file"]):
            yield name, f"{name}/{file}"


def _problems(metadata: dict) -> list[str]:
    """What makes a shared metadata.json not the benchmark this finebench evaluates (empty: nothing)."""
    problems = []
    if metadata.get("format") != FORMAT_VERSION:
        problems.append(f"data format {metadata.get('format')}, this finebench reads {FORMAT_VERSION}")
    shared = metadata.get("shared") or {}
    if shared.get("option_order") != OPTION_ORDER:
        problems.append(f"options ordered by {shared.get('option_order')!r}, this finebench uses {OPTION_ORDER!r}")
    if not metadata.get("units"):
        problems.append("no prepared unit")
    for name, record in sorted(metadata.get("units", {}).items()):
        spec = SPECS.get((record.get("dataset"), record.get("split")))
        manifest = metadata.get("manifests", {}).get(f"{name}.jsonl", {})
        if spec is None or manifest.get("sha256") != spec.sha256 or record.get("manifest_lines") != spec.lines:
            problems.append(f"{name}: not prepared from the pinned manifest")
            continue
        covered = record["rows"] + len(record.get("missing", [])) + len(record.get("unreadable", []))
        if covered != spec.lines:
            problems.append(f"{name}: {record['rows']} rows, {len(record.get('missing', []))} missing and "
                            f"{len(record.get('unreadable', []))} unreadable lines make {covered}, not {spec.lines}")
    for _, path in shared_files(metadata) if not problems else ():
        if path not in shared.get("files", {}):
            problems.append(f"{path}: no size and sha256 recorded (not pushed by `finebench data push`)")
    return problems


# ------------------------------------------------------------------------------------------ locations

@dataclass(frozen=True)
class HubLocation:
    repo_id: str
    revision: str | None

    def __str__(self) -> str:
        return f"{HUB_PREFIX}{self.repo_id}" + (f"@{self.revision}" if self.revision else "")


def parse_location(text: str) -> HubLocation | str:
    """A Hub repository (with an optional @revision) or an fsspec URL / folder, as given."""
    text = str(text).strip()
    if not text:
        raise FinebenchError("no location given", f"name a folder, an fsspec URL or {HUB_PREFIX}<owner>/<name>")
    if text.startswith(HUB_PREFIX):
        repository, _, revision = text.removeprefix(HUB_PREFIX).strip("/").partition("@")
        from finebench.locations import hub_repository

        return HubLocation(hub_repository(HUB_PREFIX + repository, "the data location"), revision or None)
    if text.startswith("hf://"):
        raise FinebenchError(f"{text!r}: only dataset repositories hold prepared data",
                             f"use {HUB_PREFIX}<owner>/<name>")
    return text


def _fs(url: str):
    from .transfer import filesystem

    return filesystem(url)


class SharedData:
    """A pushed copy, read where it is: metadata checked on opening, files addressed for datasets."""

    def __init__(self, location: str):
        self.location = parse_location(location)
        if isinstance(self.location, HubLocation):
            from huggingface_hub import HfApi

            self.api = HfApi()
            try:
                self.commit = self.api.dataset_info(self.location.repo_id, revision=self.location.revision).sha
            except Exception as error:  # the client's RepositoryNotFound, RevisionNotFound, HTTP and network errors
                raise FinebenchError(f"cannot read {self.location}: {error.__class__.__name__}: {str(error)[:300]}",
                                     "check the repository name and revision, and that HF_TOKEN can read it "
                                     "(private repositories need a token)") from None
        else:
            self.fs, self.root = _fs(self.location)
            self.commit = None
        self.metadata = self._read_metadata()
        problems = _problems(self.metadata)
        if problems:
            raise FinebenchError(f"{self.location} is not a complete copy of the benchmark this finebench "
                                 f"evaluates:\n  " + "\n  ".join(problems[:10]),
                                 "push it again from a prepared folder (`finebench data push`), or upgrade the "
                                 "finebench of the machine that pushed it")
        self._check_sizes()

    @property
    def described(self) -> str:
        return f"{self.location}" + (f" at commit {self.commit[:12]}" if self.commit else "")

    def _read_bytes(self, path: str) -> bytes:
        if isinstance(self.location, HubLocation):
            local = self.api.hf_hub_download(self.location.repo_id, path, repo_type="dataset", revision=self.commit)
            return Path(local).read_bytes()
        with self.fs.open(f"{self.root.rstrip('/')}/{path}", "rb") as handle:
            return handle.read()

    def _read_metadata(self) -> dict:
        try:
            return json.loads(self._read_bytes(METADATA_FILE))
        except (FileNotFoundError, ValueError) as error:
            raise FinebenchError(f"{self.location} has no readable {METADATA_FILE} ({error.__class__.__name__})",
                                 "push a prepared folder there with `finebench data push`") from None
        except Exception as error:
            if isinstance(error, FinebenchError):
                raise
            raise FinebenchError(f"cannot read {METADATA_FILE} of {self.location}: {str(error)[:300]}",
                                 "check the location (and HF_TOKEN for a private repository)") from None

    def _sizes(self) -> dict[str, int]:
        if isinstance(self.location, HubLocation):
            entries = self.api.list_repo_tree(self.location.repo_id, repo_type="dataset", revision=self.commit,
                                              recursive=True)
            return {entry.path: entry.size for entry in entries if hasattr(entry, "size")}
        found = {}
        for path in self.metadata["shared"]["files"]:
            try:
                found[path] = int(self.fs.info(f"{self.root.rstrip('/')}/{path}")["size"])
            except FileNotFoundError:
                pass
        return found

    def _check_sizes(self) -> None:
        sizes, wrong = self._sizes(), []
        for _, path in shared_files(self.metadata):
            expected = self.metadata["shared"]["files"][path]["bytes"]
            if sizes.get(path) != expected:
                wrong.append(f"{path}: {'absent' if path not in sizes else f'{sizes[path]} bytes'}, "
                             f"metadata says {expected}")
        if wrong:
            raise FinebenchError(f"{self.described} is partial or mixed (a push still running, or cut short):\n  "
                                 + "\n  ".join(wrong[:10]), "push it again, then read it")

    def url(self, path: str) -> str:
        if isinstance(self.location, HubLocation):
            from huggingface_hub import hf_hub_url

            return hf_hub_url(self.location.repo_id, path, repo_type="dataset", revision=self.commit)
        return self.fs.unstrip_protocol(f"{self.root.rstrip('/')}/{path}")

    def data_files(self, dataset: str, split: str, lite: bool = False) -> list[str]:
        name = f"{dataset}_{split}"
        record = self.metadata["units"].get(name)
        if record is None:
            raise FinebenchError(f"{name} is not in {self.described}",
                                 f"prepare it where the copy was made and push again, or unset {DATA_VARIABLE}")
        return [self.url(f"{name}/{file}") for file in ([record["lite"]["file"]] if lite else record["files"])]

    def fetch(self, path: str, target: Path) -> None:
        """One file into target, its sha256 checked against the metadata before it is kept."""
        from finebench import atomic

        data = self._read_bytes(path)
        expected = self.metadata["shared"]["files"][path]["sha256"]
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise FinebenchError(f"{path} of {self.described}: sha256 {actual}, metadata says {expected}",
                                 "push the copy again; nothing local was changed")
        atomic.write_bytes(target, data)


@functools.lru_cache(maxsize=4)
def shared_data(location: str) -> SharedData:
    """The copy FINEBENCH_DATA names, opened and checked once per process."""
    return SharedData(location)


def data_location() -> str | None:
    return os.environ.get(DATA_VARIABLE) or None


# ------------------------------------------------------------------------------------------ push, pull

def _pushed_metadata(store: PreparedStore) -> dict:
    metadata = store.read_metadata()
    local_problems = [f"{name}: {store.outdated(record)}" for name, record in metadata["units"].items()
                      if store.outdated(record)]
    if not metadata["units"] or local_problems:
        raise FinebenchError(f"nothing to push from {store.root}" if not metadata["units"] else
                             "units of an older data format: " + "; ".join(local_problems),
                             "run `finebench prepare --download` first")
    files = {}
    for _, path in shared_files(metadata):
        local = store.root / path
        if not local.is_file():
            raise FinebenchError(f"{local} is missing", "run `finebench prepare` again, then push")
        files[path] = {"bytes": local.stat().st_size, "sha256": sha256_of(local)}
    return {**metadata, "shared": {"files": files, "option_order": OPTION_ORDER}}


def push(destination: str, private: bool = True, home: Path | None = None) -> str:
    """Copy the prepared folder to destination; return where it is now (a Hub copy: at its commit)."""
    store = PreparedStore(prepared_dir(home))
    location = parse_location(destination)
    with store.locked():
        metadata = _pushed_metadata(store)
        problems = _problems(metadata)
        if problems:
            raise FinebenchError(f"{store.root} is not a complete prepared benchmark:\n  " + "\n  ".join(problems[:10]),
                                 "prepare it again with `finebench prepare`")
        body = (json.dumps(metadata, indent=2, sort_keys=True) + "\n").encode()
        if isinstance(location, HubLocation):
            return _push_to_hub(location, store, metadata, body, private)
        fs, root = _fs(location)
        for _, path in shared_files(metadata):
            fs.makedirs(f"{root.rstrip('/')}/{path.rsplit('/', 1)[0]}", exist_ok=True)
            fs.put_file(str(store.root / path), f"{root.rstrip('/')}/{path}")
        with fs.open(f"{root.rstrip('/')}/{METADATA_FILE}", "wb") as handle:  # last: the copy is whole once it lands
            handle.write(body)
        return location


def _push_to_hub(location: HubLocation, store: PreparedStore, metadata: dict, body: bytes, private: bool) -> str:
    from huggingface_hub import CommitOperationAdd, HfApi

    api = HfApi()
    api.create_repo(location.repo_id, repo_type="dataset", private=private, exist_ok=True)
    operations = [CommitOperationAdd(path, str(store.root / path)) for _, path in shared_files(metadata)]
    operations.append(CommitOperationAdd(METADATA_FILE, body))
    commit = api.create_commit(location.repo_id, operations, commit_message="finebench data push",
                               repo_type="dataset", revision=location.revision)
    return f"{HUB_PREFIX}{location.repo_id}@{commit.oid}"


def pull(source: str, home: Path | None = None) -> tuple[str, list[str]]:
    """Copy a pushed benchmark into this machine's prepared folder, unit by unit, each file checked first.
    Return the copy's description and the units installed."""
    shared = SharedData(source)
    store = PreparedStore(prepared_dir(home))
    installed = []
    with store.locked():
        store.recover()
        for name, record in sorted(shared.metadata["units"].items()):
            if store.is_current(name, record["fingerprint"]):
                continue
            staging = store.staging_dir(name, record["fingerprint"])
            for file in (*record["files"], record["lite"]["file"]):
                if not (staging / file).is_file():  # present means checked: fetch writes atomically
                    shared.fetch(f"{name}/{file}", staging / file)
            store.install_unit(staging, name)
            manifest = shared.metadata["manifests"][f"{name}.jsonl"]
            store.record_unit(name, {**record, "archive_root": f"pulled from {shared.described}"}, manifest)
            installed.append(name)
    return shared.described, installed
