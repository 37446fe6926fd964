"""The submission queue: one JSON request per (model, revision, protocol), with a status.

PENDING -> RUNNING -> FINISHED | FAILED (with a reason). A running request carries a
heartbeat; one whose heartbeat is older than the stale limit (its worker died) is claimed
again. Each claim creates a lease file exclusively, so any number of workers, on one
machine or many (a Hub queue), claim each request attempt exactly once; a worker whose
claim was superseded writes nothing more. The request id is derived from (model, revision, protocol), and requests are
created exclusively, so a duplicate submission is refused however many arrive at once.
A request file that is not a well-typed request, or whose name is not its id, is listed as
a problem (file and reason) and skipped: it never stops the app or the worker.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from .storage import AlreadyExists, Storage

FOLDER = "requests"
LEASES = "leases"
PENDING, RUNNING, FINISHED, FAILED = "PENDING", "RUNNING", "FINISHED", "FAILED"
STATUSES = (PENDING, RUNNING, FINISHED, FAILED)


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def request_id(model: str, revision: str, protocol: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in model.rsplit("/", 1)[-1]).strip("-")[:40]
    return f"{slug}-{hashlib.sha256(f'{model}@{revision}#{protocol}'.encode()).hexdigest()[:12]}"


@dataclass
class Request:
    model: str
    revision: str
    protocol: str
    precision: str
    family: str
    backend: str  # hf | vllm | responder
    contact: str
    lmms_eval_model: str  # the lmms-eval model name, e.g. qwen2_5_vl
    sha: str | None = None  # the commit a Hub revision resolved to at submission: what the worker fetches
    status: str = PENDING
    attempt: int = 0  # claims so far; the lease of claim n is leases/<id>-<n>.json
    worker: str = ""  # who holds the current claim
    submitted_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    heartbeat: float | None = None
    reason: str | None = None
    log: str | None = None
    entries: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return request_id(self.model, self.revision, self.protocol)

    @property
    def path(self) -> str:
        return f"{FOLDER}/{self.id}.json"

    def to_json(self) -> bytes:
        return (json.dumps({"id": self.id, **asdict(self)}, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> "Request":
        """A request read back from its file; ValueError names the first thing wrong with it."""
        try:
            record = json.loads(data)
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text ({error.reason})") from None
        if not isinstance(record, dict):
            raise ValueError(f"a JSON {_JSON_NAMES.get(type(record), type(record).__name__)}, not an object")
        record = dict(record)
        record.pop("id", None)
        for name, kinds in FIELD_TYPES.items():
            if name in record and not isinstance(record[name], kinds) or isinstance(record.get(name), bool):
                raise ValueError(f"{name} is {record[name]!r}, not {_kind_names(kinds)}")
        missing = [name for name in REQUIRED if name not in record]
        unknown = sorted(set(record) - set(FIELD_TYPES))
        if missing or unknown:
            raise ValueError(f"fields missing: {missing}" if missing else f"unknown fields: {unknown}")
        if not all(isinstance(entry, str) for entry in record.get("entries", [])):
            raise ValueError("entries must be a list of strings")
        heartbeat = record.get("heartbeat")
        if heartbeat is not None and not math.isfinite(heartbeat):
            raise ValueError(f"heartbeat is {heartbeat!r}, not a time")
        request = cls(**record)
        if request.status not in STATUSES:
            raise ValueError(f"unknown status {request.status!r}")
        return request


_TEXT = (str,)
_OPTIONAL_TEXT = (str, type(None))
FIELD_TYPES = {**dict.fromkeys(("model", "revision", "protocol", "precision", "family", "backend", "contact",
                                "lmms_eval_model", "status", "submitted_at", "updated_at"), _TEXT),
               "heartbeat": (int, float, type(None)), "reason": _OPTIONAL_TEXT, "log": _OPTIONAL_TEXT,
               "sha": _OPTIONAL_TEXT, "attempt": (int,), "worker": _TEXT,
               "entries": (list,)}
REQUIRED = ("model", "revision", "protocol", "precision", "family", "backend", "contact", "lmms_eval_model")


_JSON_NAMES = {type(None): "null", str: "string", int: "number", float: "number", list: "array", bool: "boolean"}


def _kind_names(kinds: tuple) -> str:
    return " or ".join(dict.fromkeys(_JSON_NAMES.get(kind, kind.__name__) for kind in kinds))


class LostClaim(Exception):
    def __init__(self, request: "Request"):
        super().__init__(f"request {request.id} was claimed again by another worker (its heartbeat went stale); "
                         "this attempt's outcome is dropped")


class DuplicateRequest(Exception):
    def __init__(self, existing: Request, where: str):
        self.existing, self.where = existing, where
        super().__init__(f"{existing.model} at revision {existing.revision} ({existing.protocol}) was already "
                         f"submitted: request {existing.id}, {existing.status}, see {where}")


@dataclass
class Listing:
    requests: list[Request]
    problems: list[str]  # malformed request files, reported and skipped


class Queue:
    def __init__(self, storage: Storage):
        self.storage = storage

    def submit(self, request: Request) -> Request:
        request.submitted_at = request.updated_at = now()  # the queue's order is the order of arrival
        try:
            self.storage.create(request.path, request.to_json())
        except AlreadyExists:
            raise DuplicateRequest(self.get(request.id), self.storage.describe(request.path)) from None
        return request

    def get(self, identifier: str) -> Request:
        return Request.from_json(self.storage.read(f"{FOLDER}/{identifier}.json"))

    def save(self, request: Request) -> None:
        request.updated_at = now()
        self.storage.write(request.path, request.to_json())

    def listing(self) -> Listing:
        requests, problems = [], []
        for name in self.storage.list(FOLDER):
            if not name.endswith(".json"):
                continue
            try:
                request = Request.from_json(self.storage.read(f"{FOLDER}/{name}"))
            except (ValueError, TypeError, OSError) as error:
                problems.append(f"{self.storage.describe(f'{FOLDER}/{name}')}: {error}; skipped")
                continue
            if name != f"{request.id}.json":  # claimed under one name, saved under another: it would loop
                problems.append(f"{self.storage.describe(f'{FOLDER}/{name}')}: its model, revision and protocol "
                                f"make the id {request.id}, not {name.removesuffix('.json')}; skipped")
                continue
            requests.append(request)
        requests.sort(key=lambda r: (r.submitted_at, r.id))
        return Listing(requests, problems)

    def recover_stale(self, stale_after_seconds: float) -> list[Request]:
        """RUNNING requests whose heartbeat stopped go back to PENDING."""
        return self._recover(self.listing().requests, stale_after_seconds)

    def _recover(self, requests: list[Request], stale_after_seconds: float) -> list[Request]:
        """recover_stale on requests already listed; they are updated in place."""
        recovered = []
        for request in requests:
            if request.status == RUNNING and (request.heartbeat or 0) < time.time() - stale_after_seconds:
                request.status, request.reason = PENDING, "its worker stopped sending heartbeats; requeued"
                self.save(request)
                recovered.append(request)
        return recovered

    def claim_oldest(self, stale_after_seconds: float, worker: str = "") -> Request | None:
        """Claim the oldest PENDING request (or RUNNING one whose heartbeat is stale) and mark it RUNNING;
        None when there is none. The claim is a lease file created exclusively (O_EXCL on a folder, a commit
        conditioned on the parent commit on the Hub), one per attempt: of any number of workers racing for a
        request, exactly one creates its lease."""
        started = time.time()
        for request in self.listing().requests:  # listed once
            stale = request.status == RUNNING and (request.heartbeat or 0) < started - stale_after_seconds
            if request.status != PENDING and not stale:
                continue
            attempt = self._take_lease(request, worker, stale_after_seconds)
            if attempt is None:
                continue  # another worker claimed it first
            request.attempt, request.worker = attempt, worker
            request.status, request.heartbeat = RUNNING, time.time()
            request.reason = "its worker stopped sending heartbeats; requeued" if stale else None
            self.save(request)
            return request
        return None

    def _take_lease(self, request: Request, worker: str, stale_after_seconds: float) -> int | None:
        """The attempt whose lease this worker created, or None when another worker holds the claim. A lease the
        request never recorded (its worker died between creating it and saving the request) is passed over once
        it is older than the stale limit, so a claim cut short is never a request stuck for good."""
        attempt = request.attempt + 1
        while True:
            lease = {"request": request.id, "attempt": attempt, "worker": worker, "at": now(), "time": time.time()}
            try:
                self.storage.create(self._lease_path(request.id, attempt), json.dumps(lease).encode())
                return attempt
            except AlreadyExists:
                if not self._orphaned(request.id, attempt, stale_after_seconds):
                    return None
                attempt += 1

    def _orphaned(self, identifier: str, attempt: int, stale_after_seconds: float) -> bool:
        try:
            lease = json.loads(self.storage.read(self._lease_path(identifier, attempt)))
            taken = float(lease.get("time") or datetime.fromisoformat(lease["at"]).timestamp())
            recorded = self.get(identifier).attempt >= attempt
        except (OSError, ValueError, TypeError, KeyError, AttributeError):  # unreadable: leave it to its holder
            return False
        return not recorded and taken < time.time() - stale_after_seconds

    def _lease_exists(self, identifier: str, attempt: int) -> bool:
        try:
            self.storage.read(self._lease_path(identifier, attempt))
            return True
        except Exception:  # FileNotFoundError locally, EntryNotFoundError on the Hub
            return False

    @staticmethod
    def _lease_path(identifier: str, attempt: int) -> str:
        return f"{LEASES}/{identifier}-{attempt}.json"

    def holds(self, request: Request) -> bool:
        """Whether this copy of the request still holds the latest claim (a stale worker's may not)."""
        try:
            return self.get(request.id).attempt == request.attempt
        except (OSError, ValueError):
            return False

    def waiting(self, stale_after_seconds: float) -> list[str]:
        """Why RUNNING requests that look abandoned are not claimed yet (their heartbeat is not stale)."""
        limit, notes = time.time() - stale_after_seconds, []
        for request in self.listing().requests:
            if request.status == RUNNING and request.heartbeat and request.heartbeat >= limit:
                notes.append(f"request {request.id} is RUNNING ({request.worker or 'a worker'}), last heartbeat "
                             f"{time.time() - request.heartbeat:.0f} s ago; it returns to the queue once that is "
                             f"over {stale_after_seconds:.0f} s (FINEBENCH_STALE_SECONDS)")
            elif request.status == PENDING and self._lease_exists(request.id, request.attempt + 1):
                # unclaimable while PENDING: a claim cut short by its worker's death
                notes.append(f"request {request.id} was claimed (leases/{request.id}-{request.attempt + 1}.json) by "
                             "a worker that stopped before recording it; it returns to the queue once that lease "
                             f"is over {stale_after_seconds:.0f} s old (FINEBENCH_STALE_SECONDS)")
        return notes

    def beat(self, request: Request) -> bool:
        """Refresh the heartbeat; False (and nothing written) if another worker has claimed the request since."""
        if not self.holds(request):
            return False
        request.heartbeat = time.time()
        self.save(request)
        return True

    def release(self, request: Request, reason: str) -> bool:
        """Give a claim back: the request is PENDING again for any worker (its next claim is a new attempt, which
        resumes from the journal). False, and nothing written, when another worker has claimed it since."""
        if not self.holds(request):
            return False
        request.status, request.heartbeat, request.reason = PENDING, None, reason
        self.save(request)
        return True

    def finish(self, request: Request, entries: list[str]) -> None:
        request.status, request.entries, request.reason = FINISHED, entries, None
        self._save_held(request)

    def fail(self, request: Request, reason: str) -> None:
        request.status, request.reason = FAILED, reason
        self._save_held(request)

    def _save_held(self, request: Request) -> None:
        if not self.holds(request):
            raise LostClaim(request)
        self.save(request)
