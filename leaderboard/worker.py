"""`finebench worker`: evaluate queued requests and publish their entries.

Takes the oldest PENDING request, marks it RUNNING (a heartbeat thread keeps it alive),
runs lmms-eval through finebench's wrapper with the request's backend, ingests the run
into result entries (source "submitted"), publishes them, and marks the request
FINISHED, or FAILED with the reason. The log of every request is kept beside its run.
The evaluation runs under a guard (killed with the worker, however the worker dies) and
journals its answers, so a request requeued after a crash resumes where it stopped; one
lock per request folder keeps two workers from evaluating into it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.harness import guard
from finebench.harness.doctor import preflight_evaluation
from finebench.harness.runs import read_run
from finebench.harness.tasknames import protocol_tasks
from finebench.results import entries
from finebench.results.entries import Source
from finebench.results.ingest import build_entries

from .queue import PENDING, Queue, Request
from .settings import Settings
from .storage import Storage

HEARTBEAT_SECONDS = 30


def resolve_pretrained(request: Request) -> str:
    """A local folder for the model at the requested revision (downloaded once from the Hub).

    Submission stores a local checkpoint as its resolved absolute path, so any other name is a Hub id.
    """
    if Path(request.model).is_absolute():
        return request.model
    from huggingface_hub import snapshot_download

    return snapshot_download(request.model, revision=request.revision, allow_patterns=None)


def evaluation_arguments(request: Request, output: Path, lite: bool, extra_model_args: str = "",
                         gen_kwargs: str = "") -> list[str]:
    arguments = ["--tasks", protocol_tasks(request.protocol, lite), "--log_samples", "--output_path", str(output)]
    if request.backend == "responder":
        return ["--model", request.model, *arguments]
    key = "model" if request.backend == "vllm" else "pretrained"
    model_args = f"{key}={resolve_pretrained(request)}" + (f",{extra_model_args}" if extra_model_args else "")
    if request.backend == "vllm":
        model_args += f",dtype={request.precision}"
    arguments = ["--model", request.lmms_eval_model, "--model_args", model_args, *arguments]
    return arguments + (["--gen_kwargs", gen_kwargs] if gen_kwargs else [])


class Heartbeat:
    """Refreshes a RUNNING request's heartbeat until stopped."""

    def __init__(self, queue: Queue, request: Request, every: float = HEARTBEAT_SECONDS):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(queue, request, every), daemon=True)

    def _run(self, queue: Queue, request: Request, every: float) -> None:
        while not self._stop.wait(every):
            queue.beat(request)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def publish(entry: dict, results: Storage) -> str:
    """Validate and write the entry where the leaderboard reads it (a folder or a Hub dataset)."""
    path = entries.file_name(entry)
    results.write(path, entries.dumps(entry, results.describe(path)))
    return results.describe(path)


def process(request: Request, queue: Queue, results: Storage, settings: Settings, lite: bool = False,
            extra_model_args: str = "", gen_kwargs: str = "", encoder: str | None = None,
            variables: dict[str, str] | None = None) -> None:
    folder = settings.runs_dir / request.id
    busy = FinebenchError(f"another worker is evaluating request {request.id} in {folder}",
                          "each request is evaluated by one worker at a time")
    try:
        with atomic.exclusive(folder / ".worker.lock", busy):
            _evaluate(request, queue, results, settings, folder, lite, extra_model_args, gen_kwargs, encoder,
                      variables or {})
    except Exception as error:  # any failure is the request's outcome, recorded, never the worker's end
        queue.fail(request, f"{type(error).__name__}: {error}")


def _evaluate(request: Request, queue: Queue, results: Storage, settings: Settings, folder: Path, lite: bool,
              extra_model_args: str, gen_kwargs: str, encoder: str | None, variables: dict[str, str]) -> None:
    """One evaluation into an emptied output folder (what an earlier, interrupted attempt left there is never
    mixed in: its answers are in the journal, which this attempt reads), then its entries, published."""
    log_path = folder / "log.txt"
    request.log = str(log_path)
    queue.save(request)
    output = folder / "output"
    if output.exists():
        shutil.rmtree(output)
    arguments = evaluation_arguments(request, output, lite, extra_model_args, gen_kwargs)
    # The worker ran the preflight before it evaluated this request (run_worker).
    command = [sys.executable, "-m", "finebench", "eval", "--no-preflight",
               *(["--encoder", encoder] if encoder else []), *arguments]
    with Heartbeat(queue, request), open(log_path, "a") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        code = guard.call(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **variables})
    if code != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise FinebenchError(f"evaluation exited with code {code}: {' / '.join(tail)}", f"see {log_path}")
    built = [entry for entry in build_entries(read_run(output), name=request.model,
                                              family=request.family, source=Source.SUBMITTED)
             if entry["protocol"] == request.protocol]
    for entry in built:
        entry["model"]["revision"] = request.revision
        entry["provenance"]["request"] = request.id
    queue.finish(request, [publish(entry, results) for entry in built])


def run_worker(queue: Queue, results: Storage, settings: Settings, once: bool = False, lite: bool = False,
               poll_seconds: float = 30, extra_model_args: str = "", gen_kwargs: str = "",
               encoder: str | None = None) -> int:
    """Process requests until the queue is empty (once) or forever; return how many were processed."""
    done = 0
    while True:
        request = queue.claim_oldest(settings.stale_after_seconds)
        if request is None:
            if once:
                return done
            time.sleep(poll_seconds)
            continue
        try:
            variables = preflight_evaluation("worker", ["--tasks", protocol_tasks(request.protocol, lite)],
                                             encoder=encoder)
        except FinebenchError:  # this machine cannot evaluate: the request is not to blame, put it back
            request.status, request.heartbeat = PENDING, None
            queue.save(request)
            raise
        print(f"evaluating {request.model}@{request.revision} ({request.protocol}), request {request.id}")
        process(request, queue, results, settings, lite, extra_model_args, gen_kwargs, encoder, variables)
        print(f"  -> {request.status}")  # process() keeps the request it holds up to date
        done += 1
        if once:
            return done
