"""The leaderboard's commands: leaderboard (serve the app), submit, worker."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from finebench.cli.arguments import command, positive
from finebench.errors import FinebenchError
from finebench.results.entries import FAMILIES
from finebench.scoring.protocols import Protocol

from .submission import BACKENDS, PRECISIONS


def add_commands(commands) -> None:
    board = command(
        commands, "leaderboard", run_leaderboard, ("leaderboard",),
        help="start the Gradio leaderboard (bundled results, no network)",
        description="Serve the leaderboard: the paper's rows, every published entry, the submission form and the "
                    "queue. Settings come from FINEBENCH_* variables (see leaderboard/settings.py).")
    board.add_argument("--host", default="127.0.0.1")
    board.add_argument("--port", type=int, default=7860)
    board.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    deploy = board.add_subparsers(dest="leaderboard_command", metavar="COMMAND", required=False)
    space = command(
        deploy, "space", run_space, ("leaderboard",), help="write a Hugging Face Space folder of the leaderboard",
        description="Write a folder that Hugging Face Spaces runs as it is (README front matter, app.py, "
                    "requirements pinned from the lock, the code), and that `python app.py` runs anywhere. Its "
                    "README is the operator's guide: repositories, variables, upload, workers.")
    space.add_argument("output", type=Path, metavar="OUT", help="the folder to write (new, or --force)")
    space.add_argument("--queue", metavar="URL", help="default queue: hf://datasets/<owner>/<name> (a Space "
                                                      "variable FINEBENCH_QUEUE overrides it)")
    space.add_argument("--results", metavar="URL", help="default results: hf://datasets/<owner>/<name> "
                                                        "(FINEBENCH_LEADERBOARD_RESULTS overrides it)")
    space.add_argument("--title", default="finebench", help="the Space's title")
    space.add_argument("--constraints", type=Path, metavar="FILE",
                       help="the lock to pin requirements from (default: the checkout's constraints.txt)")
    space.add_argument("--force", action="store_true", help="replace a folder this command wrote before")

    submit = command(
        commands, "submit", run_submit, ("leaderboard",), help="submit a model to the evaluation queue",
        description="Validate a submission (name, revision, safetensors weights, no custom code, size) and add it "
                    "to the queue ($FINEBENCH_QUEUE).")
    submit.add_argument("model", help="Hugging Face id (owner/name), an absolute path, or a reference responder")
    submit.add_argument("--revision", default="main")
    submit.add_argument("--precision", choices=PRECISIONS, default="bfloat16")
    submit.add_argument("--family", choices=FAMILIES,
                        help="default: reference responder with --backend responder, else general MLLM")
    submit.add_argument("--backend", choices=list(BACKENDS), default="hf")
    submit.add_argument("--protocol", choices=list(Protocol), type=Protocol, default=Protocol.FINEBENCH)
    submit.add_argument("--contact", required=True, help="e-mail or Hugging Face user name")

    worker = command(
        commands, "worker", run_worker, ("leaderboard", "eval"),
        help="evaluate queued submissions and publish their entries",
        description="Check this machine (finebench doctor's quick checks), take the oldest PENDING request, evaluate "
                    "it with lmms-eval, ingest and publish the entries, and mark the request FINISHED or FAILED.")
    stop = worker.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="process one request and stop")
    stop.add_argument("--drain", action="store_true",
                      help="process requests until none can be claimed, then stop (one of several batch workers)")
    worker.add_argument("--lite", action="store_true", help="evaluate on the lite subset (a test deployment)")
    worker.add_argument("--poll", type=float, default=30, help="seconds between looks at an empty queue")
    worker.add_argument("--model-args", default="", help="extra lmms-eval model arguments, e.g. device_map=auto")
    worker.add_argument("--gen-kwargs", default="", help="lmms-eval --gen_kwargs for every request")
    worker.add_argument("--batch-size", type=positive, default=1,
                        help="lmms-eval --batch_size for every request: requests per forward pass (default 1)")
    worker.add_argument("--encoder", help="text encoder for the open-world similarity")
    worker.add_argument("--recipe", choices=("systemd", "slurm"),
                        help="print, instead of running, a systemd unit or a Slurm batch script that runs this worker "
                             "command as a service, with the FINEBENCH_* settings of this shell")


def run_leaderboard(args: argparse.Namespace) -> None:
    from .app import build_app
    from .settings import load_settings

    build_app(load_settings()).launch(server_name=args.host, server_port=args.port, share=args.share)


def run_space(args: argparse.Namespace) -> None:
    from .space import write_space

    written = write_space(args.output, args.queue, args.results, args.title, args.constraints, args.force)
    print(f"Space folder written to {written}\n  try it here: cd {shlex.quote(str(written))} && "
          "python3 -m venv .venv && .venv/bin/pip install -r requirements.txt && .venv/bin/python app.py\n"
          "  deploy it: see its README.md")


def run_submit(args: argparse.Namespace) -> None:
    from .queue import DuplicateRequest, Queue
    from .settings import QUEUE_VARIABLE, load_settings
    from .storage import open_storage
    from .submission import validate_submission

    settings = load_settings()
    family = args.family or ("reference responder" if args.backend == "responder" else "general MLLM")
    request = validate_submission(args.model, args.revision, args.precision, family, args.backend,
                                  args.contact, args.protocol, settings)
    queue = Queue(open_storage(settings.queue, QUEUE_VARIABLE))
    try:
        queue.submit(request)
    except DuplicateRequest as duplicate:
        raise FinebenchError(str(duplicate), "wait for that request, or submit another revision") from None
    print(f"request {request.id} is PENDING in {queue.storage.describe(request.path)}")


def worker_words(args: argparse.Namespace) -> list[str]:
    """The worker's command-line flags as parsed, less --recipe: what a recipe runs."""
    words = ["--once"] if args.once else ["--drain"] if args.drain else []
    words += ["--lite"] if args.lite else []
    words += ["--poll", f"{args.poll:g}"] + (["--batch-size", str(args.batch_size)] if args.batch_size != 1 else [])
    for flag, value in (("--model-args", args.model_args), ("--gen-kwargs", args.gen_kwargs),
                        ("--encoder", args.encoder)):
        words += [flag, value] if value else []
    return words


def run_worker(args: argparse.Namespace) -> None:
    if args.recipe:
        from .recipes import recipe

        print(recipe(args.recipe, worker_words(args)), end="")
        return
    from .queue import Queue
    from .settings import QUEUE_VARIABLE, RESULTS_VARIABLE, load_settings
    from .storage import open_storage
    from .worker import Evaluation
    from .worker import run_worker as work

    settings = load_settings()
    queue = Queue(open_storage(settings.queue, QUEUE_VARIABLE))
    results = open_storage(settings.results[0], RESULTS_VARIABLE)  # entries are published to the first location
    for storage in (queue.storage, results):
        storage.reach()  # before any request is claimed: an evaluation must never finish with nowhere to go
    evaluation = Evaluation(args.lite, args.model_args, args.gen_kwargs, args.encoder, args.batch_size)
    count = work(queue, results, settings, evaluation, once=args.once, drain=args.drain, poll_seconds=args.poll)
    print(f"processed {count} request(s)")
