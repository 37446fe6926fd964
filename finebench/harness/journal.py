"""The generation journal: each answer a model gives is on disk moments after it is made, so the same
command run again after a crash (kill -9, a lost node, a full disk) generates only what is missing.

lmms-eval 0.7.3's own response cache (--use_cache) stores answers only after the model has
answered every request of a type, which in one evaluation is all of them: a killed run leaves it
empty. The journal instead hands the model its requests in chunks (the model's own batch size, at
least CHUNK_DEFAULT) and appends each chunk's answers to a JSON-lines file with one write() to
a file opened O_APPEND, so a kill loses at most the chunk in flight, and a torn last line is
skipped on reading.

Layout under the journal folder ($FINEBENCH_JOURNAL, default $FINEBENCH_HOME/journal):

    <model id>/identity.json     what the answers depend on besides the request: the model's lmms-eval
                                 name, its --model_args, the files of a local checkpoint (names, sizes,
                                 times), so retraining into the same folder starts a new journal
    <model id>/rank-<r>.jsonl    one line per answer: key, task, doc_id, text (and token counts)

A key is the hash of the task, the line (doc_id and request index), the prompt, the generation
settings, and the identity of the line's prepared data (its unit's fingerprint, and for the
in-context tasks the demonstrations' file), so answers to changed data or prompts are never served.
Only finebench's tasks are journaled: for other tasks the journal cannot tell whether the data
behind a doc_id changed. Sampled generations (temperature > 0) are journaled too: a resumed run
keeps the draws already made rather than paying for new ones.

Wrapped around every lmms-eval model by finebench's model entry point (lmms_plugin) when
FINEBENCH_JOURNAL names a folder, which `finebench eval` and the worker do unless told --no-journal.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import sys
from functools import cache
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from finebench.home import finebench_home, prepared_dir

JOURNAL_VARIABLE = "FINEBENCH_JOURNAL"  # the journal folder; unset or empty: no journal
CHUNK_VARIABLE = "FINEBENCH_JOURNAL_CHUNK"  # requests per chunk handed to the model (default below)
CHUNK_DEFAULT = 32
IDENTITY_FILE = "identity.json"
_GENERATION_KEYS = ("temperature", "top_p", "top_k", "max_new_tokens", "max_gen_toks", "do_sample", "num_beams",
                    "until", "repetition_penalty", "n", "best_of", "num_return_sequences", "seed")


def default_folder(home: Path | None = None) -> Path:
    """$FINEBENCH_JOURNAL if set, else the journal folder of the home."""
    configured = os.environ.get(JOURNAL_VARIABLE, "").strip()
    return Path(configured).expanduser() if configured else (home or finebench_home()) / "journal"


# ------------------------------------------------------------------------------------------ identity


def _checkpoint_files(folder: Path) -> list[list]:
    """Name, size and modification time of every file of a local checkpoint (cheap: no hashing)."""
    files = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            status = path.stat()
            files.append([str(path.relative_to(folder)), status.st_size, int(status.st_mtime)])
    return files


def model_identity(model: str, model_args: str | None) -> dict:
    """What a model's answers depend on besides the request."""
    arguments = str(model_args or "")
    identity: dict[str, Any] = {"model": model, "model_args": arguments}
    for part in arguments.split(","):
        key, _, value = part.partition("=")
        if key.strip() in ("pretrained", "model", "model_version") and Path(value.strip()).is_dir():
            identity["checkpoint"] = _checkpoint_files(Path(value.strip()))
    return identity


def identity_id(identity: dict) -> str:
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:20]


# ------------------------------------------------------------------------------------------ keys


@cache
def _data_fingerprints(prepared: str) -> dict[str, str]:
    """unit name -> the fingerprint prepare recorded for it (read once per process and folder), from the shared
    copy FINEBENCH_DATA names when it is set: the data the tasks read."""
    from finebench.data.sharing import data_location, shared_data
    from finebench.data.store import PreparedStore

    location = data_location()
    units = shared_data(location).metadata["units"] if location else \
        PreparedStore(Path(prepared)).read_metadata().get("units", {})
    return {name: str(record.get("fingerprint")) for name, record in units.items()}


def _demonstrations_fingerprint(dataset: str) -> str:
    from finebench.data.fewshot import DEFAULT_SHOTS, fewshot_path

    from .taskhooks import DEMONSTRATION_SEED

    path = fewshot_path(dataset, DEFAULT_SHOTS, DEMONSTRATION_SEED)
    if not path.is_file():
        return "absent"
    status = path.stat()
    return f"{status.st_size}:{status.st_mtime_ns}"


@cache
def data_identity(task: str, prepared: str) -> str | None:
    """The identity of the prepared data (in the folder ``prepared``) behind a finebench task's lines;
    None for any other task."""
    from .runs import parse_task

    key = parse_task(task)
    if key is None:
        return None
    unit = f"{key.dataset}_{key.split}"
    identity = f"{unit}:{_data_fingerprints(prepared).get(unit)}:{'lite' if key.lite else 'full'}"
    if key.strategy == "in-context":
        identity += f":{_demonstrations_fingerprint(key.dataset)}"
    return identity


def _generation_settings(arguments: Sequence) -> str:
    settings = next((argument for argument in arguments if isinstance(argument, dict)), {})
    chosen = {key: settings[key] for key in sorted(settings) if key in _GENERATION_KEYS}
    return json.dumps(chosen, sort_keys=True, default=str)


def request_key(request) -> str | None:
    """The key of an lmms-eval request's answer, or None when it must not be journaled."""
    data = data_identity(request.task_name, str(prepared_dir()))
    if data is None:
        return None
    prompts = [argument for argument in request.args if isinstance(argument, str)]
    text = json.dumps([request.task_name, request.doc_id, request.idx, data, prompts,
                       _generation_settings(request.args)], default=str)
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------------ records


def _record(key: str, request, answer) -> dict:
    from lmms_eval.api.instance import unwrap_generation_output

    text, counts = unwrap_generation_output(answer)
    record = {"key": key, "task": request.task_name, "doc_id": request.doc_id, "text": text}
    if counts is not None:
        record["token_counts"] = dataclasses.asdict(counts)
    return record


def _answer(record: dict):
    if "token_counts" not in record:
        return record["text"]
    from lmms_eval.api.instance import GenerationResult, TokenCounts

    return GenerationResult(record["text"], TokenCounts(**record["token_counts"]))


def read_records(folder: Path) -> tuple[dict[str, dict], int]:
    """Every answer in a model's journal folder by key, and how many torn or unreadable lines were skipped."""
    answers, skipped = {}, 0
    for path in sorted(folder.glob("rank-*.jsonl")):
        with open(path, "rb") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                    answers[record["key"]] = record
                except (ValueError, KeyError, TypeError):
                    skipped += 1  # a line cut by a kill mid-write: its answer is generated again
    return answers, skipped


class Journal:
    """One model's journal, as one data-parallel rank sees it."""

    def __init__(self, root: Path, identity: dict, rank: int = 0):
        self.folder = Path(root) / identity_id(identity)
        self.folder.mkdir(parents=True, exist_ok=True)
        identity_path = self.folder / IDENTITY_FILE
        if not identity_path.is_file():
            from finebench import atomic

            atomic.write_json(identity_path, identity)
        self.path = self.folder / f"rank-{rank}.jsonl"
        self.answers, self.skipped = read_records(self.folder)

    def append(self, records: Iterable[dict]) -> None:
        """One write() of whole lines to a file opened O_APPEND: concurrent writers never interleave a line."""
        data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode()
        if not data:
            return
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)

    def served(self, requests: list) -> tuple[list, list[str | None]]:
        """The journaled answer of each request (None where there is none), and each request's key."""
        keys = [request_key(request) for request in requests]
        answers = [_answer(self.answers[key]) if key is not None and key in self.answers else None for key in keys]
        found = sum(answer is not None for answer in answers)
        if found:
            print(f"finebench journal: {found} of {len(requests)} answers read from {self.folder}, "
                  f"{len(requests) - found} to generate", file=sys.stderr)
        return answers, keys

    def record(self, requests: list, keys: list[str | None], answers: list) -> None:
        records = [_record(key, request, answer) for request, key, answer in zip(requests, keys, answers)
                   if key is not None]
        self.answers.update((record["key"], record) for record in records)
        self.append(records)

    def generate(self, generate: Callable[[list], list], requests: list, chunk: int) -> list:
        """generate_in_chunks through this journal."""
        return generate_in_chunks(generate, requests, chunk, self)


def generate_in_chunks(generate: Callable[[list], list], requests: list, chunk: int, journal: Journal | None = None,
                       after_chunk: Callable[[list, list], None] = lambda requests, answers: None) -> list:
    """The answers to the requests: journaled ones read back, the rest generated chunk by chunk, each chunk
    journaled as soon as it is done; ``after_chunk(requests, answers)`` sees every answer as it arrives (the
    served ones first)."""
    answers, keys = journal.served(requests) if journal else ([None] * len(requests), [None] * len(requests))
    missing = [position for position, answer in enumerate(answers) if answer is None]
    served = [position for position, answer in enumerate(answers) if answer is not None]
    if served:
        after_chunk([requests[position] for position in served], [answers[position] for position in served])
    for start in range(0, len(missing), chunk):
        positions = missing[start:start + chunk]
        batch = [requests[position] for position in positions]
        made = list(generate(batch))
        for position, answer in zip(positions, made):
            answers[position] = answer
        if journal:
            journal.record(batch, [keys[position] for position in positions], made)
        after_chunk(batch, made)
    return answers


# ------------------------------------------------------------------------------------------ lmms-eval


def chunk_size(model) -> int:
    """Requests per chunk: the model's own batch (so a vLLM batch of 256 stays whole), at least CHUNK_DEFAULT."""
    configured = os.environ.get(CHUNK_VARIABLE)
    if configured:
        return max(1, int(configured))
    batch = next((value for name in ("batch_size_per_gpu", "batch_size")
                  if isinstance(value := getattr(model, name, None), int)), 1)
    return max(CHUNK_DEFAULT, batch)


def journal_for(model, name: str, model_args: str | None) -> Journal | None:
    """The journal FINEBENCH_JOURNAL names for this model (None when it names none)."""
    root = os.environ.get(JOURNAL_VARIABLE, "").strip()
    if not root:
        return None
    return Journal(Path(root), model_identity(name, model_args), int(os.environ.get("RANK", "0")))


# ------------------------------------------------------------------------------------------ the command


def summaries(root: Path) -> list[dict]:
    """One row per model journal: its id, model, arguments, answers and size."""
    rows = []
    for folder in sorted(path for path in Path(root).glob("*") if path.is_dir()):
        try:
            identity = json.loads((folder / IDENTITY_FILE).read_text("utf-8"))
        except (OSError, ValueError):
            identity = {}
        answers, skipped = read_records(folder)
        rows.append({"id": folder.name, "model": identity.get("model", "?"),
                     "model_args": identity.get("model_args", "?"), "answers": len(answers), "skipped": skipped,
                     "bytes": sum(path.stat().st_size for path in folder.glob("*") if path.is_file())})
    return rows


def clear(root: Path, ids: Sequence[str] = ()) -> list[str]:
    """Delete the named model journals (all when none is named); the ids deleted."""
    from finebench.errors import FinebenchError

    present = {row["id"] for row in summaries(root)}
    unknown = [journal_id for journal_id in ids if journal_id not in present]
    if unknown:
        raise FinebenchError(f"no journal {', '.join(unknown)} under {root}",
                             "`finebench journal list` shows the ids there are")
    chosen = list(ids) or sorted(present)
    for journal_id in chosen:
        shutil.rmtree(Path(root) / journal_id)
    return chosen
