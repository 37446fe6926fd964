"""`finebench rescore`: every metric recomputed from a run's logged outputs, no generation.

The records lmms-eval logged with each sample hold what scoring needs (the output, the
options shown, the super-category words), so a run can be rescored with another text
encoder, or after a scoring fix. The result is a new output folder that `finebench
ingest` reads like any other.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from tqdm.auto import tqdm

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.scoring.circular import score_rotation, unrotated
from finebench.scoring.encoders import load_encoder
from finebench.scoring.metrics import (
    CIRCULAR_ACCURACY,
    CIRCULAR_METRICS,
    CLOSED_METRICS,
    FINEBENCH_ACCURACY,
    FINEBENCH_SIMILARITY,
    OFFICIAL_SIMILARITY,
    OPEN_METRICS,
    record_identity,
)
from finebench.scoring.protocols import Protocol
from finebench.scoring.scoring import aggregate, score_closed, score_open_batch

from .runs import Run, TaskKey, output_text, read_run, samples_file_name


def _logged_metrics(key: TaskKey) -> tuple[str, ...]:
    """The metrics a task logs (a circular task's position metric only on the rotations it applies to)."""
    if key.order == Protocol.CIRCULAR:
        return CIRCULAR_METRICS
    return CLOSED_METRICS if key.world == "closed" else OPEN_METRICS


def _closed_doc(sample: dict) -> dict:
    record = sample[FINEBENCH_ACCURACY]
    return {**record_identity(record), "balanced_options": record["options"]}


def _rotation_doc(sample: dict) -> dict:
    record = sample[CIRCULAR_ACCURACY]
    return {**record_identity(record), "rotation": record["rotation"],
            "balanced_options": unrotated(record["options"], int(record["rotation"]))}


def _open_doc(sample: dict) -> dict:
    return {**record_identity(sample[FINEBENCH_SIMILARITY]),
            "super_category": sample[FINEBENCH_SIMILARITY]["super_category"],
            "official_super_category": sample[OFFICIAL_SIMILARITY]["super_category"]}


def rescore_samples(key: TaskKey, samples: list[dict], encoder_name: str | None = None) -> list[dict]:
    """The samples with every metric record recomputed from their logged outputs."""
    try:
        outputs = [output_text(sample) for sample in samples]
        if key.order == Protocol.CIRCULAR:
            records = [score_rotation(_rotation_doc(sample), output) for sample, output in zip(samples, outputs)]
        elif key.world == "closed":
            records = [score_closed(_closed_doc(sample), output) for sample, output in zip(samples, outputs)]
        else:
            docs = [_open_doc(sample) for sample in samples]
            records = score_open_batch(docs, outputs, load_encoder(encoder_name))
    except KeyError as missing:
        raise FinebenchError(f"samples of {key.name} lack the record field {missing}",
                             "rescoring needs samples logged by finebench's tasks (lmms-eval --log_samples)") from None
    logged = _logged_metrics(key)  # a rotation's records replace all it logged (its position metric may move)
    return [{**{name: value for name, value in sample.items() if name not in logged}, **record}
            for sample, record in zip(samples, records)]


def rescore(folder: Path | str, output: Path | str, encoder_name: str | None = None) -> Path:
    """Rescore the newest run under folder into output; return the new results file."""
    run: Run = read_run(folder)
    output = Path(output)
    if output.resolve() == run.results_path.parent.resolve():
        raise FinebenchError("the rescored run would overwrite the original", "pass another --output folder")
    results = json.loads(json.dumps(run.results))  # a deep copy to edit
    for key in tqdm(run.tasks, desc="rescoring", unit="task"):
        samples = run.samples.get(key.name)
        if not samples:
            raise FinebenchError(f"no samples for {key.name} in {run.results_path.parent}",
                                 "rescoring needs a run made with --log_samples")
        rescored = rescore_samples(key, samples, encoder_name)
        lines = "".join(json.dumps(sample, ensure_ascii=False) + "\n" for sample in rescored)
        atomic.write_text(output / samples_file_name(run.stamp, key.name), lines)
        task_results = results["results"][key.name]
        for metric in _logged_metrics(key):
            task_results[f"{metric},none"] = aggregate(metric, [sample[metric] for sample in rescored
                                                                if metric in sample])
    results["finebench_rescore"] = {
        "from": str(run.results_path), "encoder": load_encoder(encoder_name).name if any(
            key.world == "open" for key in run.tasks) else None,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    results.pop("groups", None)  # group figures are recomputed by ingest from the task figures
    target = output / run.results_path.name
    atomic.write_json(target, results)
    return target
