"""Worker health, visible from the app: each worker reports itself in the queue's storage, the app reads the
reports beside the requests.

    workers/<worker>.json    {"worker", "state", "request", "processed", "started", "last_seen", "version"}

A worker reports when it starts, when it claims a request, after each request, when it stops, and while idle
at most every IDLE_REPORT_SECONDS (a report is a commit on a Hub queue: a handful of idle workers must not
flood the repository). While a worker evaluates, the request's own heartbeat (every few seconds to a minute)
is its sign of life, so nothing more is written. A worker whose latest sign of life is older than the silence
limit is shown as silent: it died without a word, or lost its network.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass

import pandas as pd

from finebench import __version__

from .queue import STATUSES, Request
from .storage import Storage

FOLDER = "workers"
IDLE_REPORT_SECONDS = 120.0
STARTING, IDLE, EVALUATING, STOPPED = "starting", "idle", "evaluating", "stopped"
WORKER_COLUMNS = ["worker", "state", "request", "last sign of life (s ago)", "processed", "started", "finebench"]


@dataclass
class WorkerReport:
    worker: str  # host:pid
    state: str
    request: str | None = None
    processed: int = 0
    started: float = 0.0
    last_seen: float = 0.0
    version: str = __version__

    @property
    def path(self) -> str:
        readable = re.sub(r"[^A-Za-z0-9.-]", "-", self.worker)[:60]
        return f"{FOLDER}/{readable}-{hashlib.sha256(self.worker.encode()).hexdigest()[:8]}.json"


class Reporter:
    """One worker's reports: written at each change of state, and while idle no more often than every
    IDLE_REPORT_SECONDS. A report that cannot be written is not the worker's end (the queue is what counts)."""

    def __init__(self, storage: Storage, worker: str, idle_every: float = IDLE_REPORT_SECONDS):
        self.storage, self.idle_every = storage, idle_every
        self.report = WorkerReport(worker, STARTING, started=time.time())
        self._written_at = 0.0

    def __call__(self, state: str, request: str | None = None, processed: int | None = None) -> None:
        unchanged = (state, request) == (self.report.state, self.report.request) and processed is None
        if unchanged and time.time() - self._written_at < self.idle_every:
            return
        self.report.state, self.report.request = state, request
        if processed is not None:
            self.report.processed = processed
        self.report.last_seen = self._written_at = time.time()
        try:
            self.storage.write(self.report.path, (json.dumps(asdict(self.report), sort_keys=True) + "\n").encode())
        except Exception as error:  # the Hub is briefly down: say so, keep working
            print(f"  (worker report not written: {type(error).__name__}: {str(error)[:200]})")


def read_reports(storage: Storage) -> tuple[list[WorkerReport], list[str]]:
    """Every worker's latest report, and the files that are not one ("name: why")."""
    reports, problems = [], []
    for name in storage.list(FOLDER):
        if not name.endswith(".json"):
            continue
        try:
            record = json.loads(storage.read(f"{FOLDER}/{name}"))
            reports.append(WorkerReport(**{key: record[key] for key in WorkerReport.__dataclass_fields__}))
        except Exception as error:  # malformed, or written by another version: listed, never fatal
            problems.append(f"{storage.describe(f'{FOLDER}/{name}')}: {type(error).__name__}: {error}")
    return reports, problems


def silence_limit(stale_after_seconds: float) -> float:
    """How long without a sign of life before a worker is shown as silent."""
    return max(stale_after_seconds, 3 * IDLE_REPORT_SECONDS)


def workers_frame(reports: list[WorkerReport], requests: list[Request], stale_after_seconds: float,
                  now: float | None = None) -> pd.DataFrame:
    """One row per worker, latest first: its state ("silent" when it stopped giving signs of life without
    saying it stopped), the request it evaluates, and how long ago it was last heard of (its own report, or the
    heartbeat of the request it holds, whichever is later)."""
    now = time.time() if now is None else now
    held = {request.worker: request.heartbeat or 0.0 for request in requests if request.status == "RUNNING"}
    rows = []
    for report in reports:
        seen = max(report.last_seen, held.get(report.worker, 0.0) if report.state == EVALUATING else 0.0)
        state = report.state
        if state != STOPPED and now - seen > silence_limit(stale_after_seconds):
            state = f"silent (was {report.state})"
        rows.append({"worker": report.worker, "state": state, "request": report.request or "",
                     "last sign of life (s ago)": round(max(0.0, now - seen)), "processed": report.processed,
                     "started": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(report.started)) + " UTC",
                     "finebench": report.version})
    frame = pd.DataFrame(rows, columns=WORKER_COLUMNS)
    return frame.sort_values("last sign of life (s ago)", kind="stable").reset_index(drop=True)


def summary(frame: pd.DataFrame, requests: list[Request]) -> str:
    """One line: workers by state, requests by status."""
    states = frame["state"].str.split(" ").str[0].value_counts() if len(frame) else {}
    workers = ", ".join(f"{states.get(state, 0)} {state}" for state in (EVALUATING, IDLE, "silent", STOPPED))
    counts = {status: sum(request.status == status for request in requests) for status in STATUSES}
    return (f"**Workers** ({len(frame)} seen): {workers}. **Requests**: "
            + ", ".join(f"{count} {status}" for status, count in counts.items()) + ".")
