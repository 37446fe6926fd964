"""`finebench worker`: evaluate queued requests and publish their entries.

Takes the oldest PENDING request, marks it RUNNING (a heartbeat thread keeps it alive),
runs lmms-eval through finebench's wrapper with the request's backend, ingests the run
into result entries (source "submitted"), publishes them, and marks the request
FINISHED, or FAILED with the reason. The log of every request is kept beside its run.
SIGTERM (systemd's stop, Slurm's end of job, a container's stop) or Ctrl-C stops the
evaluation's whole process tree and gives the request back to the queue, PENDING: another
worker, or this one restarted, evaluates it again and resumes from the journal. Each worker
reports its state to the queue (health.py), which the app shows.
The evaluation runs under a guard (killed with the worker, however the worker dies) and
journals its answers, so a request requeued after a crash resumes where it stopped; one
lock per request folder keeps two workers from evaluating into it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.harness import guard
from finebench.harness.doctor import preflight_evaluation
from finebench.harness.evalrun import PathLinks
from finebench.harness.runs import read_run
from finebench.harness.tasknames import protocol_tasks
from finebench.results import conditions, entries, lines
from finebench.results.entries import Source
from finebench.results.ingest import build_entries_with_lines

from . import health
from .queue import PENDING, RUNNING, LostClaim, Queue, Request
from .settings import Settings
from .storage import AlreadyExists, Storage
from .submission import ARGUMENT_SEPARATORS, recheck

HEARTBEAT_SECONDS = 30


@dataclass(frozen=True)
class Evaluation:
    """How this worker evaluates every request it takes: the operator's choices, the same for all submissions."""

    lite: bool = False  # the lite subset (a test deployment)
    model_args: str = ""  # more lmms-eval --model_args, after the request's own (device_map=auto, …)
    gen_kwargs: str = ""  # lmms-eval --gen_kwargs
    encoder: str | None = None  # the open world's text encoder (None: finebench's default)
    batch_size: int = 1  # lmms-eval --batch_size: requests per forward pass


def heartbeat_seconds(stale_after_seconds: float) -> float:
    """Beat often enough that a live claim is never taken for a dead one: at least four beats per stale limit."""
    return max(0.5, min(HEARTBEAT_SECONDS, stale_after_seconds / 4))


def resolve_pretrained(request: Request) -> Path:
    """A local folder for the model: a local checkpoint as submitted (stored as its resolved absolute path),
    else the Hub snapshot at the commit the revision resolved to at submission (downloaded once)."""
    if Path(request.model).is_absolute():
        return Path(request.model)
    from huggingface_hub import snapshot_download

    return Path(snapshot_download(request.model, revision=request.sha or request.revision))


def model_arguments(pairs: dict[str, str]) -> str:
    """--model_args from pairs, each value exactly one argument: lmms-eval splits on ',' and '=', and the
    last key wins, so a value holding either could add or override arguments."""
    for key, value in pairs.items():
        if any(character in str(value) for character in ARGUMENT_SEPARATORS):
            raise FinebenchError(f"the model argument {key}={value!r} holds ',', '=' or a line break, which "
                                 "lmms-eval would read as more arguments", "the worker never passes such a value")
    return ",".join(f"{key}={value}" for key, value in pairs.items())


def evaluation_arguments(request: Request, output: Path, settings: Settings, links: PathLinks,
                         evaluation: Evaluation = Evaluation()) -> list[str]:
    """lmms-eval's arguments for the request. The model folder is checked again as it is about to be loaded,
    and handed over by a path without separators; custom code runs only for allow-listed models."""
    arguments = ["--tasks", protocol_tasks(request.protocol, evaluation.lite), "--log_samples", "--output_path",
                 str(output), *(["--batch_size", str(evaluation.batch_size)] if evaluation.batch_size != 1 else [])]
    if request.backend == "responder":
        return ["--model", request.model, *arguments]
    folder = resolve_pretrained(request)
    recheck(request, folder, settings)
    if request.backend == "vllm":
        pairs = {"model": links.carry(folder), "dtype": request.precision,
                 "trust_remote_code": str(request.model in settings.allow_custom_code)}
    else:  # lmms-eval's qwen2_5_vl loads in bfloat16 (submission refuses another precision) and never trusts code
        low, high = conditions.REFERENCE_PIXELS  # the benchmark's pixel budget, not the backend's smaller default
        pairs = {"pretrained": links.carry(folder), "min_pixels": str(low), "max_pixels": str(high)}
    model_args = model_arguments(pairs) + (f",{evaluation.model_args}" if evaluation.model_args else "")
    arguments = ["--model", request.lmms_eval_model, "--model_args", model_args, *arguments]
    return arguments + (["--gen_kwargs", evaluation.gen_kwargs] if evaluation.gen_kwargs else [])


class Heartbeat:
    """Refreshes a RUNNING request's heartbeat until stopped."""

    def __init__(self, queue: Queue, request: Request, every: float):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(queue, request, every), daemon=True)

    def _run(self, queue: Queue, request: Request, every: float) -> None:
        while not self._stop.wait(every):
            if not queue.beat(request):
                return  # claimed again by another worker: this attempt's outcome will be dropped (LostClaim)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def publish(entry: dict, results: Storage, sidecar: bytes | None = None) -> str:
    """Validate and write the entry where the leaderboard reads it (a folder or a Hub dataset), its per-line
    sidecar first (named by its content: one already there holds these very bytes)."""
    path = entries.file_name(entry)
    data = entries.dumps(entry, results.describe(path))
    if entry.get("lines"):
        if sidecar is None or lines.reference(sidecar)["sha256"] != entry["lines"]["sha256"]:
            raise FinebenchError(f"the entry {path} names per-line scores {entry['lines']['sha256'][:12]}… that "
                                 "were not given with it", "publish an entry with the sidecar ingest made for it")
        try:
            results.create(entry["lines"]["file"], sidecar)
        except AlreadyExists:
            pass
    results.write(path, data)
    return results.describe(path)


def process(request: Request, queue: Queue, results: Storage, settings: Settings,
            evaluation: Evaluation = Evaluation(), variables: dict[str, str] | None = None) -> None:
    folder = settings.runs_dir / request.id / f"attempt-{request.attempt}"  # each claim evaluates into its own
    busy = FinebenchError(f"another worker is evaluating request {request.id} in {folder}",
                          "each request is evaluated by one worker at a time")
    try:
        with atomic.exclusive(folder / ".worker.lock", busy):
            _evaluate(request, queue, results, settings, folder, evaluation, variables or {})
    except LostClaim as lost:
        print(f"  {lost}")
    except Exception as error:  # any failure is the request's outcome, recorded, never the worker's end
        try:
            queue.fail(request, f"{type(error).__name__}: {error}")
        except LostClaim as lost:
            print(f"  {lost}")


def _evaluate(request: Request, queue: Queue, results: Storage, settings: Settings, folder: Path,
              evaluation: Evaluation, variables: dict[str, str]) -> None:
    """One evaluation into an emptied output folder (what an earlier, interrupted attempt left there is never
    mixed in: its answers are in the journal, which this attempt reads), then its entries, published."""
    log_path = folder / "log.txt"
    request.log = str(log_path)
    queue.save(request)
    output = folder / "output"
    if output.exists():
        shutil.rmtree(output)
    beating = Heartbeat(queue, request, heartbeat_seconds(settings.stale_after_seconds))
    with PathLinks() as links, beating, open(log_path, "a") as log:
        arguments = evaluation_arguments(request, output, settings, links, evaluation)
        # The worker ran the preflight before it evaluated this request (run_worker).
        command = [sys.executable, "-m", "finebench", "eval", "--no-preflight",
                   *(["--encoder", evaluation.encoder] if evaluation.encoder else []), *arguments]
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        code = guard.call(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **variables})
    if code != 0:
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        raise FinebenchError(f"evaluation exited with code {code}: {' / '.join(tail)}", f"see {log_path}")
    built = [(entry, sidecar) for entry, sidecar in build_entries_with_lines(
        read_run(output), name=request.model, family=request.family, source=Source.SUBMITTED)
        if entry["protocol"] == request.protocol]
    for entry, _ in built:
        entry["model"]["revision"] = request.revision
        entry["provenance"]["request"] = request.id
    if not queue.holds(request):
        raise LostClaim(request)  # publish nothing: the worker that claimed it again publishes its own
    queue.finish(request, [publish(entry, results, sidecar) for entry, sidecar in built])


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Stopping(BaseException):
    """A stop signal: BaseException, so that no `except Exception` takes it for a failed evaluation."""

    def __init__(self, signal_number: int):
        super().__init__(signal.Signals(signal_number).name)
        self.name = signal.Signals(signal_number).name


def _raise_stopping(signal_number: int, frame) -> None:
    raise Stopping(signal_number)


class StopSignals:
    """While entered, SIGTERM and SIGINT raise Stopping in the main thread (the previous handlers come back on
    exit); a second signal during the clean-up is ignored, so the request is given back whatever arrives."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __enter__(self) -> "StopSignals":
        in_main_thread = threading.current_thread() is threading.main_thread()  # where Python runs handlers
        self.previous = {number: signal.signal(number, _raise_stopping) for number in self.SIGNALS} \
            if in_main_thread else {}
        return self

    @staticmethod
    def ignore_more() -> None:
        for number in StopSignals.SIGNALS:
            signal.signal(number, signal.SIG_IGN)

    def __exit__(self, *exc_info) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


def run_worker(queue: Queue, results: Storage, settings: Settings, evaluation: Evaluation = Evaluation(),
               once: bool = False, drain: bool = False, poll_seconds: float = 30) -> int:
    """Process requests: one (once), until none can be claimed (drain: a batch job's worker), or forever, until
    SIGTERM or SIGINT; return how many were processed."""
    report = health.Reporter(queue.storage, worker_identity())
    done, held = 0, None
    with StopSignals():
        try:
            while True:
                report(health.IDLE)
                held = queue.claim_oldest(settings.stale_after_seconds, report.report.worker)
                if held is None:
                    if once or drain:
                        for note in queue.waiting(settings.stale_after_seconds):
                            print(note)
                        break
                    time.sleep(poll_seconds)
                    continue
                report(health.EVALUATING, held.id)
                _process_claimed(held, queue, results, settings, evaluation)
                held, done = None, done + 1
                report(health.IDLE, processed=done)
                if once:
                    break
        except Stopping as stop:
            StopSignals.ignore_more()
            given_back = held is not None and held.status == RUNNING and queue.release(
                held, f"its worker stopped ({stop.name}) during the evaluation; requeued, it resumes from the journal")
            print(f"stopped by {stop.name}" + (f": request {held.id} is PENDING again" if given_back else ""))
        finally:
            report(health.STOPPED, processed=done)
    return done


def _process_claimed(request: Request, queue: Queue, results: Storage, settings: Settings,
                     evaluation: Evaluation) -> None:
    try:
        variables = preflight_evaluation("worker", ["--tasks", protocol_tasks(request.protocol, evaluation.lite)],
                                         encoder=evaluation.encoder)
    except FinebenchError:  # this machine cannot evaluate: the request is not to blame, put it back
        request.status, request.heartbeat = PENDING, None
        queue.save(request)
        raise
    print(f"evaluating {request.model}@{request.revision} ({request.protocol}), request {request.id}")
    process(request, queue, results, settings, evaluation, variables)
    print(f"  -> {request.status}")  # process() keeps the request it holds up to date
