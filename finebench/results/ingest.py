"""`finebench ingest`: an lmms-eval output folder -> result entries (one per protocol).

Each cell is the mean of the per-line scores logged with the samples, with a 95 %
percentile-bootstrap interval; averages are bootstrapped too (datasets resampled
independently, then averaged), so every figure carries its uncertainty.
"""

from __future__ import annotations

import sys
import zlib
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from finebench import __version__, atomic
from finebench.data.manifests import SPECS
from finebench.data.registry import DATASET_KEYS, SPLITS
from finebench.errors import FinebenchError
from finebench.harness.runs import Run, TaskKey, read_run
from finebench.harness.tasknames import STRATEGY_VARIANTS, benchmark_group, suite
from finebench.scoring.circular import line_groups, line_record, whole
from finebench.scoring.metrics import (
    CIRCULAR_ACCURACY,
    FINEBENCH_ACCURACY,
    FINEBENCH_INCLUSION,
    FINEBENCH_SIMILARITY,
    OFFICIAL_ACCURACY,
    OFFICIAL_INCLUSION,
    OFFICIAL_SIMILARITY,
    ROTATED_ACCURACY,
)
from finebench.scoring.prompts import prompt_hash
from finebench.scoring.protocols import Protocol
from finebench.scoring.stats import bootstrap_means, interval

from . import entries, lines, positions
from .conditions import parse_arguments
from .entries import Source
from .wholeness import check_run

# protocol -> entry metric -> (world, option order, lmms-eval metric); the open world shows no options (None)
SOURCES = {
    Protocol.FINEBENCH: {"closed_accuracy": ("closed", Protocol.FINEBENCH, FINEBENCH_ACCURACY),
                         "open_inclusion": ("open", None, FINEBENCH_INCLUSION),
                         "open_similarity": ("open", None, FINEBENCH_SIMILARITY)},
    Protocol.OFFICIAL: {"closed_accuracy": ("closed", Protocol.OFFICIAL, OFFICIAL_ACCURACY),
                        "open_inclusion": ("open", None, OFFICIAL_INCLUSION),
                        "open_similarity": ("open", None, OFFICIAL_SIMILARITY)},
    # both read from each rotation's circular_accuracy record: a line right in all four, and right per rotation
    Protocol.CIRCULAR: {"circular_accuracy": ("closed", Protocol.CIRCULAR, CIRCULAR_ACCURACY),
                        "rotated_accuracy": ("closed", Protocol.CIRCULAR, ROTATED_ACCURACY)},
}


def line_records(run: Run, key: TaskKey, metric: str) -> list[dict]:
    """One record per line of a task under an lmms-eval metric, in document order (data-parallel runs log their
    ranks' samples interleaved, and the bootstrap resamples by position, so the same lines in another order would
    give another interval). A circular task logs four documents per line: its line's record joins them."""
    samples = run.samples.get(key.name)
    if not samples:
        raise FinebenchError(f"{run.results_path.parent} has no samples for {key.name}",
                             "run lmms-eval with --log_samples, then ingest that folder")
    ordered = sorted(samples, key=lambda sample: sample["doc_id"])
    if key.order != Protocol.CIRCULAR:
        return [sample[metric] for sample in ordered]
    groups = line_groups([sample[CIRCULAR_ACCURACY] for sample in ordered])
    return [line_record(group, metric) for group in groups if whole(group)]  # a line cut by --limit is left out


def _scores(run: Run, key: TaskKey, metric: str) -> np.ndarray:
    return np.array([float(record["score"]) for record in line_records(run, key, metric)]) * 100.0


def _cell(resampled: np.ndarray, value: float, n: int | None) -> dict:
    low, high = interval(resampled)
    return {"value": round(value, 4), "n": n, "ci95": [round(low, 4), round(high, 4)]}


def _metric_scores(run: Run, world: str, order: Protocol | None, metric: str) -> dict | None:
    """{dataset: {split: cell}, "average": {…}} for one metric, or None if the run lacks it."""
    keys = {(key.dataset, key.split): key for key in run.tasks if key.world == world and key.order == order}
    if not keys:
        return None
    table: dict = {}
    resampled: dict[str, list[np.ndarray]] = {split: [] for split in SPLITS}
    for (dataset, split), key in sorted(keys.items()):
        scores = _scores(run, key, metric)
        means = bootstrap_means(scores, seed=zlib.crc32(f"{dataset}/{split}/{metric}".encode()))
        table.setdefault(dataset, {})[split] = _cell(means, float(scores.mean()), len(scores))
        resampled[split].append(means)
    complete = all(len(table.get(dataset, {})) == 2 for dataset in DATASET_KEYS)
    if complete:  # the paper's averages need all six datasets
        averages = {split: np.mean(resampled[split], axis=0) for split in SPLITS}
        values = {split: float(np.mean([table[d][split]["value"] for d in DATASET_KEYS])) for split in SPLITS}
        table["average"] = {split: _cell(averages[split], values[split], None) for split in SPLITS}
        table["average"]["mean"] = _cell((averages["seen"] + averages["unseen"]) / 2,
                                         (values["seen"] + values["unseen"]) / 2, None)
    return table


def _model(run: Run, name: str | None, family: str | None, parameters: float | None = None,
           model_id: str | None = None) -> dict:
    config = run.results.get("config", {})
    arguments = parse_arguments(config.get("model_args"))
    model_id = model_id or arguments.get("pretrained") or arguments.get("model") or arguments.get("model_version")
    return {"name": name or model_id or str(config.get("model")), "id": model_id,
            "revision": arguments.get("revision"), "backend": config.get("model"), "family": family,
            "parameters": parameters}


def _encoder(run: Run) -> str | None:
    for key in run.tasks:
        if key.world == "open" and run.samples.get(key.name):
            return run.samples[key.name][0][FINEBENCH_SIMILARITY].get("encoder")
    return None


def _task_configurations(run: Run) -> dict:
    """Each task's version and configuration hash as the run recorded them (lmms-eval's configs)."""
    configs = run.results.get("configs", {})
    return {key.name: {"version": run.results.get("versions", {}).get(key.name),
                       "config_hash": (configs.get(key.name, {}).get("metadata") or {}).get("config_hash")}
            for key in run.tasks}


def _provenance(run: Run, wholeness: dict) -> dict:
    configs = run.results.get("configs", {})
    first = next((configs[key.name] for key in run.tasks if key.name in configs), {})
    return {
        "finebench_version": __version__,
        "lmms_eval_version": run.results.get("lmms_eval_version"),
        "lmms_eval_package": _installed_version("lmms-eval"),
        "manifest_sha256": {f"{d}_{s}.jsonl": SPECS[d, s].sha256 for d in DATASET_KEYS for s in SPLITS},
        "prompt_hash": prompt_hash(),
        "generation": first.get("generation_kwargs"),
        "cli_generation_override": run.results.get("config", {}).get("gen_kwargs") or None,
        "model_args": run.results.get("config", {}).get("model_args"),
        "tasks": sorted(key.name for key in run.tasks),
        "task_configurations": _task_configurations(run),
        "tasks_differ": wholeness["tasks_differ"],
        "limit": run.results.get("config", {}).get("limit"),
        "missing_lines": wholeness["missing_lines"],
        "run": str(run.results_path),
        "run_date": run.results.get("date"),
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "rescored": run.results.get("finebench_rescore"),
        "strategy": next((key.strategy for key in run.tasks if key.order == Protocol.FINEBENCH), "zero-shot"),
    }


def _installed_version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def build_entries(run: Run, name: str | None = None, family: str | None = None, source: Source = Source.REPRODUCED,
                  parameters: float | None = None, model_id: str | None = None,
                  allow_partial: bool = False) -> list[dict]:
    """The run's entries, one per protocol, once the run is known whole (wholeness.check_run; a partial run
    only when ``allow_partial``, and marked so)."""
    return [entry for entry, _ in build_entries_with_lines(run, name, family, source, parameters, model_id,
                                                           allow_partial)]


def build_entries_with_lines(run: Run, name: str | None = None, family: str | None = None,
                             source: Source = Source.REPRODUCED, parameters: float | None = None,
                             model_id: str | None = None, allow_partial: bool = False) -> list[tuple[dict, bytes]]:
    """build_entries, each entry with the bytes of the per-line sidecar it names: for the writers (ingest, the
    worker), which store the sidecar beside the entry."""
    if not run.tasks:
        raise FinebenchError(f"{run.results_path} holds no finegrained_* task",
                             f"run lmms-eval with --tasks {benchmark_group()} (or {benchmark_group(lite=True)})")
    subsets = {key.lite for key in run.tasks}
    if len(subsets) > 1:
        raise FinebenchError(f"{run.results_path} mixes lite and full tasks",
                             "run the full benchmark and the lite subset into separate output folders")
    lite = next(iter(subsets))
    strategies = {key.strategy for key in run.tasks if key.order == Protocol.FINEBENCH}
    if len(strategies) > 1:
        raise FinebenchError(f"{run.results_path} mixes inference strategies ({', '.join(sorted(strategies))})",
                             "run each strategy (" + ", ".join(suite(variant, lite) for variant in STRATEGY_VARIANTS)
                             + ") into its own folder")
    wholeness = check_run(run, run.tasks, allow_partial)
    # one model, encoder and provenance (one ingested_at) for both protocols' entries of the run
    model, encoder = _model(run, name, family, parameters, model_id), _encoder(run)
    provenance = _provenance(run, wholeness)
    built = []
    for protocol, sources in SOURCES.items():
        scores = {metric: table for metric, (world, order, name_) in sources.items()
                  if (table := _metric_scores(run, world, order, name_)) is not None}
        if not scores:
            continue
        sidecar = protocol_lines(run, protocol)
        built.append((entries.validate({  # copies: a caller may edit one entry's model or provenance (the worker does)
            "schema_version": entries.SCHEMA_VERSION, "model": dict(model), "protocol": protocol,
            "subset": "lite" if lite else "full", "text_encoder": encoder, "source": source, "scores": scores,
            "partial": wholeness["partial"], "provenance": dict(provenance), **_line_fields(run, sidecar, protocol),
        }), sidecar))
    return built


def _line_fields(run: Run, data: bytes, protocol: Protocol) -> dict:
    """The entry's address of its per-line sidecar and, where the options were shuffled or turned, its closed-world
    accuracy by the ground truth's position, kept in the entry so the leaderboard draws it without reading every
    sidecar: the finebench protocol's from its lines, the circular one's from every rotation."""
    reference = lines.reference(data)
    profile = None
    if protocol == Protocol.FINEBENCH:
        profile = positions.profile(lines.decode(data, reference, "the sidecar just made"))
    elif protocol == Protocol.CIRCULAR:
        rotations = [sample[CIRCULAR_ACCURACY] for key in run.tasks if key.order == Protocol.CIRCULAR
                     for sample in run.samples.get(key.name) or ()]
        profile = positions.by_position([record["score"] for record in rotations],
                                        [record["position"] for record in rotations])
    return {"lines": reference, "positions": profile if profile and any(v is not None for v in profile) else None}


def protocol_lines(run: Run, protocol: Protocol) -> bytes:
    """The per-line sidecar of the run's entry under one protocol (deterministic: the same run, the same bytes)."""
    table_rows = []
    for metric, (world, order, lmms_metric) in SOURCES[protocol].items():
        for key in run.tasks:
            if key.world == world and key.order == order and run.samples.get(key.name):
                table_rows += lines.rows(metric, line_records(run, key, lmms_metric), closed=world == "closed")
    return lines.encode(table_rows)


def ingest(folder: Path | str, output_dir: Path, name: str | None = None, family: str | None = None,
           source: Source = Source.REPRODUCED, parameters: float | None = None,
           model_id: str | None = None, allow_partial: bool = False, force: bool = False) -> list[Path]:
    with_lines = build_entries_with_lines(read_run(folder), name, family, source, parameters, model_id,
                                          allow_partial)
    built = [entry for entry, _ in with_lines]
    targets = [Path(output_dir) / entries.file_name(entry) for entry in built]
    for entry, target in zip(built, targets):
        check_replacement(entry, target, force)
    for entry, sidecar in with_lines:  # the lines first: an entry is never on disk without them
        path = Path(output_dir) / entry["lines"]["file"]
        if not path.is_file():  # named by content: a file of that name holds these very bytes
            atomic.write_bytes(path, sidecar)
    written = [entries.write(entry, target) for entry, target in zip(built, targets)]
    for entry in built:
        _retire_legacy_file(entry, Path(output_dir))
    return written


def _retire_legacy_file(entry: dict, folder: Path) -> None:
    """The same entry under finebench 0.1's file name goes, so that the leaderboard does not show it twice."""
    legacy = folder / entries.legacy_file_name(entry)
    try:
        if legacy.is_file() and entries.same_result(entries.read(legacy), entry):
            legacy.unlink()
            print(f"finebench ingest: {legacy.name} (finebench 0.1's name) replaced by "
                  f"{entries.file_name(entry)}", file=sys.stderr)
    except FinebenchError:
        pass  # an unreadable file of that name is not this entry: left for its owner


def check_replacement(entry: dict, target: Path, force: bool) -> None:
    """Say what an entry replaces; refuse to replace another source's or another model's without force."""
    if not target.is_file():
        return
    try:
        old = entries.read(target)
    except FinebenchError:
        old = None  # a damaged file is replaced, and said so
    if old is None:
        print(f"finebench ingest: replacing the unreadable {target}", file=sys.stderr)
        return
    clashes = [f"{what} {old_value!r} (new: {new_value!r})" for what, old_value, new_value in (
        ("source", old["source"], str(entry["source"])), ("model id", old["model"].get("id"), entry["model"].get("id")))
        if old_value != new_value]
    if clashes and not force:
        raise FinebenchError(f"{target} holds the entry of another run: its {' and '.join(clashes)}",
                             "give this model another --name, or pass --force to replace it")
    print(f"finebench ingest: replacing {target} (ingested {old['provenance'].get('ingested_at', '?')} from "
          f"{old['provenance'].get('run', '?')})", file=sys.stderr)
