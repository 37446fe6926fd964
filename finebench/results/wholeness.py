"""Whether an lmms-eval run is whole: what `finebench ingest` checks before it builds an entry.

Per finebench task of the run:
- the lines are the task's: its unit's (or lite subset's) line count (four documents per line in
  a circular task, each its line's rotation doc_id mod 4), or what the run's --limit and --offset
  leave of it; each doc_id once; each line's record names the task's dataset and
  split, and its sample_id is a line of the unit's manifest (when the manifests are at hand);
- scoring finished: no line carries a scoring error (taskhooks records one instead of losing the
  run's generations when scoring fails);
- the task's version and configuration hash are the ones finebench generates now.

Lines of another task, a line twice and unfinished scoring are always refused. Missing lines are
refused unless the caller admits a partial run; a --limit run is partial by construction. A task
generated differently from today's is admitted, recorded in the entry and warned about.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from finebench.data.lite import LITE_LINES_PER_SPLIT
from finebench.data.manifests import SPECS
from finebench.errors import FinebenchError
from finebench.harness.runs import Run, TaskKey
from finebench.harness.taskgen import TASK_VERSION, config_hash
from finebench.scoring.circular import ROTATIONS
from finebench.scoring.metrics import ALL_METRICS, CIRCULAR_ACCURACY
from finebench.scoring.protocols import Protocol
from finebench.scoring.scoring import SCORING_ERROR


@dataclass
class Findings:
    refused: list[str] = field(default_factory=list)  # never admitted
    missing: dict[str, list[int]] = field(default_factory=dict)  # task -> [lines present, lines expected]
    differing: dict[str, dict] = field(default_factory=dict)  # task -> the version and hash it was run with


def unit_lines(key: TaskKey) -> int:
    lines = SPECS[key.dataset, key.split].lines
    return min(lines, LITE_LINES_PER_SPLIT) if key.lite else lines


def task_documents(key: TaskKey) -> int:
    """The documents lmms-eval evaluates for the whole task: a line each, or each line's rotations (circular)."""
    return unit_lines(key) * (ROTATIONS if key.order == Protocol.CIRCULAR else 1)


def expected_doc_ids(key: TaskKey, limit, offset: int) -> range:
    """The doc_ids lmms-eval evaluates for the task under --limit/--offset (lmms-eval 0.7.3's rule: a
    limit below 1 is a fraction of the documents, rounded up)."""
    lines = task_documents(key)
    if limit is None:
        return range(offset, lines)
    count = math.ceil(lines * float(limit)) if float(limit) < 1.0 else int(float(limit))
    return range(offset, min(lines, offset + count))


def _manifest_ids(dataset: str, split: str) -> frozenset[str] | None:
    """The sample_ids of a unit's manifest, if the manifests are at hand (no download)."""
    from finebench.data.manifests import FOLDER_VARIABLE
    from finebench.home import manifests_dir

    return _manifest_ids_in(dataset, split, os.environ.get(FOLDER_VARIABLE) or str(manifests_dir()))


@cache
def _manifest_ids_in(dataset: str, split: str, folder: str) -> frozenset[str] | None:
    from finebench.data.ids import sample_id
    from finebench.data.manifests import load_manifests

    try:
        manifest = load_manifests(Path(folder), datasets=(dataset,), download=False)[dataset, split]
    except (FinebenchError, OSError):
        return None
    return frozenset(sample_id(dataset, line.image_path) for line in manifest.lines)


def _foreign_line(key: TaskKey, sample: dict) -> str | None:
    """Why a sample is not a line (or, circular, a rotation of a line) of the task's unit, or None if it is."""
    records = [sample[metric] for metric in ALL_METRICS if isinstance(sample.get(metric), dict)]
    if not records:
        return "it carries no finebench metric record"
    record = records[0]
    if key.order == Protocol.CIRCULAR:
        rotation = (sample.get(CIRCULAR_ACCURACY) or {}).get("rotation")
        if rotation != sample.get("doc_id", -1) % ROTATIONS:
            return f"document {sample.get('doc_id')} is rotation {rotation}, not {sample.get('doc_id', -1) % ROTATIONS}"
    if (record.get("dataset"), record.get("split")) != (key.dataset, key.split):
        return f"it is a line of {record.get('dataset')}_{record.get('split')}"
    known = _manifest_ids(key.dataset, key.split)
    if known is not None and record.get("sample_id") not in known:
        return f"its sample_id {record.get('sample_id')!r} is not in the {key.dataset}_{key.split} manifest"
    return None


def _scoring_errors(samples: list[dict]) -> list[str]:
    """The first scoring error of each line that has one."""
    errors = []
    for sample in samples:
        found = [record[SCORING_ERROR] for metric in ALL_METRICS
                 if isinstance(record := sample.get(metric), dict) and record.get(SCORING_ERROR)]
        errors += found[:1]
    return errors


def check_task(run: Run, key: TaskKey, findings: Findings) -> None:
    samples = run.samples.get(key.name) or []
    where = run.samples_path(key.name).name
    config = run.results.get("config", {})
    expected = expected_doc_ids(key, config.get("limit"), int(config.get("offset") or 0))
    doc_ids = [sample.get("doc_id") for sample in samples]
    repeated = len(doc_ids) - len(set(doc_ids))
    if repeated:
        findings.refused.append(f"{where}: {repeated} line{'s' * (repeated > 1)} logged more than once "
                                f"({len(doc_ids)} lines for {len(set(doc_ids))} documents): two runs wrote "
                                "into one folder")
    strangers = sorted(set(doc_ids) - set(expected), key=str)
    if strangers:
        findings.refused.append(f"{where}: doc_ids {strangers[:5]} are not lines of {key.name} "
                                f"(expected {expected.start}…{expected.stop - 1})")
    foreign = next(((line, why) for line, sample in enumerate(samples, 1) if (why := _foreign_line(key, sample))),
                   None)
    if foreign:
        findings.refused.append(f"{where}:{foreign[0]}: not a line of {key.name}: {foreign[1]}")
    errors = _scoring_errors(samples)
    if errors:
        findings.refused.append(f"{where}: scoring failed on {len(errors)} of {len(samples)} lines: {errors[0]}")
    present = len(set(doc_ids) & set(expected))
    if present < len(expected):
        findings.missing[key.name] = [present, len(expected)]
    version = run.results.get("versions", {}).get(key.name)
    used = (run.results.get("configs", {}).get(key.name, {}).get("metadata") or {}).get("config_hash")
    if version != TASK_VERSION or used != config_hash(key.name):
        findings.differing[key.name] = {"version": version, "config_hash": used}


def check_run(run: Run, keys: list[TaskKey], allow_partial: bool) -> dict:
    """Check every task; raise on what is refused; return what the entry records about the run's wholeness:
    {"partial": None or why, "lines": …, "limit": …, "tasks_differ": …}."""
    findings = Findings()
    for key in keys:
        check_task(run, key, findings)
    folder = run.results_path.parent
    limit = run.results.get("config", {}).get("limit")
    if findings.missing and not allow_partial and limit is None:
        first, (present, expected) = next(iter(findings.missing.items()))
        findings.refused.append(f"{len(findings.missing)} task(s) lack lines, e.g. {first}: {present} of "
                                f"{expected} (the run stopped early, or its samples file was cut)")
    if findings.refused:
        fix = ("run the evaluation again into an empty folder (finebench eval resumes from its journal, so only "
               "what is missing is generated)")
        if any("scoring failed" in problem for problem in findings.refused):
            fix = f"finish the scoring with `finebench rescore {folder} --output <new folder>`, then ingest that"
        elif set(findings.missing) and all("lack lines" in problem for problem in findings.refused):
            fix += "; or admit it as a partial entry with --allow-partial"
        raise FinebenchError(f"{folder} is not a whole run:\n  " + "\n  ".join(findings.refused), fix)
    if findings.differing:
        print(f"finebench ingest: warning: {len(findings.differing)} task(s) of {folder} were generated by another "
              f"finebench task configuration than today's (e.g. {next(iter(findings.differing))}); the entry records "
              "it under provenance.tasks_differ", file=sys.stderr)
    partial = None
    if limit is not None:
        partial = f"--limit {limit}"
    elif findings.missing:
        partial = "admitted with --allow-partial: " + ", ".join(
            f"{task} {present}/{expected}" for task, (present, expected) in findings.missing.items())
    return {"partial": partial, "missing_lines": findings.missing or None,
            "tasks_differ": findings.differing or None}
