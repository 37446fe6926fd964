"""The submission queue: one JSON request per (model, revision, protocol), with a status.

PENDING -> RUNNING -> FINISHED | FAILED (with a reason). A running request carries a
heartbeat; one whose heartbeat is older than the stale limit (its worker died) goes back
to PENDING. The request id is derived from (model, revision, protocol), and requests are
created exclusively, so a duplicate submission is refused however many arrive at once.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from .storage import AlreadyExists, Storage

FOLDER = "requests"
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
    status: str = PENDING
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
        record = json.loads(data)
        record.pop("id", None)
        request = cls(**record)
        if request.status not in STATUSES:
            raise ValueError(f"unknown status {request.status!r}")
        return request


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
                requests.append(Request.from_json(self.storage.read(f"{FOLDER}/{name}")))
            except (ValueError, TypeError, KeyError) as error:
                problems.append(f"{name}: {error}")
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

    def claim_oldest(self, stale_after_seconds: float) -> Request | None:
        """Mark the oldest PENDING request RUNNING and return it (None when the queue is empty)."""
        requests = self.listing().requests  # listed once: recovery updates these in place
        self._recover(requests, stale_after_seconds)
        for request in requests:
            if request.status == PENDING:
                request.status, request.heartbeat, request.reason = RUNNING, time.time(), None
                self.save(request)
                return request
        return None

    def beat(self, request: Request) -> None:
        request.heartbeat = time.time()
        self.save(request)

    def finish(self, request: Request, entries: list[str]) -> None:
        request.status, request.entries, request.reason = FINISHED, entries, None
        self.save(request)

    def fail(self, request: Request, reason: str) -> None:
        request.status, request.reason = FAILED, reason
        self.save(request)
