"""`finebench prepare`: every manifest line resolved to an image on disk, written as parquet.

Per (dataset, split) "unit": find the archive, check its labels against the manifest,
stat every image, and write the rows in shards of SHARD_LINES into a staging folder
named by the unit's fingerprint (manifest hash, image sizes and times, format). A shard
file that exists is complete (atomic writes), so an interrupted run resumes at the next
shard; a unit whose fingerprint is unchanged is skipped, so a re-run is a no-op.
"""

from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from finebench.data.archives.locate import archive_not_found
from finebench.data.archives.redistributions import locate_any
from finebench.errors import FinebenchError
from finebench.home import prepared_dir

from . import imagetable
from .archives import READERS, TEST, ArchiveReader
from .classnames import official_super_category
from .ids import sample_id
from .lite import LITE_LINES_PER_SPLIT, LITE_SEED, lite_indices
from .manifests import Manifest, ManifestLine, load_manifests
from .options import balanced_options
from .registry import SPLITS, get_dataset, parse_dataset_list
from .store import FORMAT_VERSION, LITE_FILE, PreparedStore

SHARD_LINES = 500
MISSING_SHOWN = 5


@dataclass
class UnitPlan:
    manifest: Manifest
    archive_root: Path
    label_check: str
    present: list[ManifestLine] = field(default_factory=list)
    missing: list[ManifestLine] = field(default_factory=list)
    fingerprint: str = ""

    @property
    def name(self) -> str:
        return self.manifest.name


@dataclass
class UnitOutcome:
    name: str
    rows: int
    missing: int
    unreadable: int
    status: str  # "prepared" | "up to date"


def check_labels(reader: ArchiveReader, manifests: Sequence[Manifest]) -> str:
    """Compare the archive's own test labels with the manifests; refuse a different archive."""
    missing = reader.missing_metadata()
    if missing:
        return f"not checked: {', '.join(missing)} not found beside the images"
    labels = {image.path: image.class_name for image in reader.iter_images() if image.split == TEST}
    wrong = [(line, labels.get(line.archive_path)) for manifest in manifests for line in manifest.lines
             if labels.get(line.archive_path) != line.ground_truth]
    if wrong:
        examples = "; ".join(f"{line.archive_path}: archive says {label or 'not a test image'}, "
                             f"manifest says {line.ground_truth}" for line, label in wrong[:3])
        raise FinebenchError(
            f"{reader.info.display_name} at {reader.root}: the archive's labels disagree with the "
            f"manifests on {len(wrong)} lines ({examples})",
            f"the benchmark uses {reader.info.archive_name}; replace this archive with that one",
        )
    return "passed"


def plan_unit(manifest: Manifest, archive_root: Path, label_check: str) -> UnitPlan:
    plan = UnitPlan(manifest, archive_root, label_check)
    digest = hashlib.sha256(f"{FORMAT_VERSION}:{manifest.sha256}:{LITE_SEED}:{LITE_LINES_PER_SPLIT}".encode())
    for line in manifest.lines:
        try:
            stat = os.stat(archive_root / line.archive_path)
        except OSError:
            plan.missing.append(line)
            digest.update(f"{line.index}:missing;".encode())
            continue
        plan.present.append(line)
        digest.update(f"{line.index}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    plan.fingerprint = digest.hexdigest()
    return plan


def refuse_missing(plans: Sequence[UnitPlan], allow_missing: bool) -> None:
    missing = [(plan, line) for plan in plans for line in plan.missing]
    if not missing or allow_missing:
        return
    shown = "\n    ".join(str(plan.archive_root / line.archive_path) for plan, line in missing[:MISSING_SHOWN])
    archives = sorted({f"{get_dataset(plan.manifest.dataset).archive_name} (at {plan.archive_root})"
                       for plan, _ in missing})
    total = sum(len(plan.manifest.lines) for plan in plans)
    raise FinebenchError(
        f"{len(missing)} of {total} manifest lines have no image on disk, first:\n    {shown}\n"
        f"  they belong to: {'; '.join(archives)}",
        "extract the complete archive(s) again, or pass --allow-missing to prepare the lines that have "
        "images (the missing ones are recorded in metadata.json)",
    )


def _row(plan: UnitPlan, line: ManifestLine, image: imagetable.LoadedImage, options: tuple[str, ...]) -> dict:
    dataset = plan.manifest.dataset
    info = get_dataset(dataset)
    return {
        "sample_id": sample_id(dataset, line.image_path),
        "dataset": dataset,
        "split": plan.manifest.split,
        "line": line.index,
        "image": imagetable.image_cell(image, line.basename),
        "image_path": line.image_path,
        "question": line.question,
        "ground_truth": line.ground_truth,
        "class_id": info.class_id(line.ground_truth),
        "official_options": list(line.options),
        "balanced_options": list(options),
        # The manifests are validated (four distinct options, the ground truth among them),
        # so the ground truth sits exactly once in the finebench order, at its answer position.
        "balanced_answer_index": options.index(line.ground_truth),
        "super_category": info.super_category,
        "official_super_category": official_super_category(line.image_path),
        "width": image.width,
        "height": image.height,
    }


def _load_or_none(path: Path) -> imagetable.LoadedImage | str:
    try:
        return imagetable.load_image(path)
    except imagetable.UnreadableImage as error:
        return str(error)
    except OSError as error:  # vanished or unreadable since planning
        return f"{path}: {error.strerror or error}"


def write_shard(plan: UnitPlan, lines: Sequence[ManifestLine], path: Path, pool: ThreadPoolExecutor,
                options: dict[int, tuple[str, ...]], allow_missing: bool) -> None:
    loaded = pool.map(_load_or_none, [plan.archive_root / line.archive_path for line in lines])
    rows, unreadable = [], []
    for line, image in zip(lines, loaded):
        if isinstance(image, str):
            unreadable.append(line.image_path)
            if not allow_missing:
                raise FinebenchError(
                    f"cannot decode an image of {plan.name}: {image}",
                    f"extract {get_dataset(plan.manifest.dataset).archive_name} again, or pass --allow-missing "
                    "to leave such images out (they are recorded in metadata.json)",
                )
            continue
        rows.append(_row(plan, line, image, options[line.index]))
    imagetable.write_table(path, rows, imagetable.test_item_features(), skipped=unreadable)


def write_unit(plan: UnitPlan, store: PreparedStore, workers: int, bar: tqdm, allow_missing: bool) -> dict:
    """Write (or finish writing) a unit's shards, swap them in, and return its metadata record."""
    staging = store.staging_dir(plan.name, plan.fingerprint)
    staging.mkdir(parents=True, exist_ok=True)
    options = balanced_options(plan.manifest)  # once per unit: it ranks every line of the manifest
    files = []
    with ThreadPoolExecutor(workers) as pool:
        for start in range(0, len(plan.present), SHARD_LINES):
            lines = plan.present[start:start + SHARD_LINES]
            path = staging / f"part-{start // SHARD_LINES:05d}.parquet"
            if not path.is_file():  # present means complete: shards are written atomically
                write_shard(plan, lines, path, pool, options, allow_missing)
            files.append(path.name)
            bar.update(len(lines))
    unreadable = [line for file in files for line in imagetable.skipped_lines(staging / file)]
    record = {
        "dataset": plan.manifest.dataset,
        "split": plan.manifest.split,
        "fingerprint": plan.fingerprint,
        "files": files,
        "rows": sum(imagetable.row_count(staging / file) for file in files),
        "manifest_lines": len(plan.manifest.lines),
        "missing": [line.image_path for line in plan.missing],
        "unreadable": unreadable,
        "archive_root": str(plan.archive_root),
        "label_check": plan.label_check,
        "prepared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_lite(plan, staging, staging / LITE_FILE, files)
    record["lite"] = {"file": LITE_FILE, "rows": imagetable.row_count(staging / LITE_FILE),
                      "seed": LITE_SEED, "lines_per_split": LITE_LINES_PER_SPLIT}
    store.install_unit(staging, plan.name)
    store.record_unit(plan.name, record, {"sha256": plan.manifest.sha256, "lines": len(plan.manifest.lines)})
    return record


def write_lite(plan: UnitPlan, folder: Path, target: Path, files: Sequence[str]) -> None:
    """Copy the lite subset's rows out of the unit's shards into one small parquet file."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    wanted = pa.array(lite_indices(plan.manifest), pa.int32())
    tables = []
    for file in files:
        table = pq.read_table(folder / file)
        tables.append(table.filter(pc.is_in(table["line"], value_set=wanted)))
    rows = pa.concat_tables(tables).to_pylist() if tables else []
    imagetable.write_table(target, rows, imagetable.test_item_features())


def refuse_replacing(replaced: Sequence[tuple[str, str, Path]], kind: str, where: Path, replace: bool) -> None:
    """Refuse to overwrite data built from another archive folder (a user's real data, say,
    with stand-ins) unless asked to with --replace. ``replaced``: (name, recorded root, new root)."""
    if not replaced or replace:
        return
    shown = "\n    ".join(f"{name}: prepared from {old}, now found at {new}" for name, old, new in replaced[:6])
    more = f"\n    and {len(replaced) - 6} more" if len(replaced) > 6 else ""
    raise FinebenchError(
        f"{len(replaced)} {kind} under {where} were built from other archives:\n    {shown}{more}",
        "pass --replace to rebuild them from the new archives (the old ones are overwritten), or set "
        "FINEBENCH_HOME to another folder to keep both",
    )


def locate_archives(data_root: Path, keys: Sequence[str], manifests: dict, explicit: bool) -> dict[str, Path]:
    """Each requested dataset's archive root; datasets not found are an error when asked for by name."""
    found, problems = {}, []
    for dataset in keys:
        lines = manifests[dataset, "seen"].lines
        root = locate_any(data_root, dataset, lines)
        if root is None:
            problems.append(archive_not_found(data_root, dataset, lines))
        else:
            found[dataset] = root
    if problems and (explicit or not found):
        raise FinebenchError("\n".join(error.problem for error in problems), problems[0].fix)
    for error in problems:
        tqdm.write(f"skipping: {error.problem}")
    return found


def datasets_found(data_root: Path, manifest_source: Path | None, keys: Sequence[str]) -> set[str]:
    """The datasets whose archive is under data_root with all its metadata (what `prepare --download` need not
    fetch); one whose images are there without their metadata is fetched again, to be checked whole."""
    manifests = load_manifests(manifest_source, keys)
    root, found = check_data_root(data_root), set()
    for dataset in keys:
        archive_root = locate_any(root, dataset, manifests[dataset, "seen"].lines)
        if archive_root is not None and not READERS[dataset](archive_root).missing_metadata():
            found.add(dataset)
    return found


def check_data_root(data_root: Path | str) -> Path:
    path = Path(data_root).expanduser()
    if not path.is_dir():
        raise FinebenchError(f"data root {path} is not a folder",
                             "pass --data-root the folder that holds the extracted archives "
                             "(e.g. CUB_200_2011/, fgvc-aircraft-2013b/, or the Fine-R1 folders bird_200/, …)")
    return path.resolve()


def prepare(
    data_root: Path | str,
    manifest_source: Path | None = None,
    datasets: Sequence[str] | None = None,
    allow_missing: bool = False,
    workers: int | None = None,
    home: Path | None = None,
    progress: bool = True,
    replace: bool = False,
) -> list[UnitOutcome]:
    """Prepare every (dataset, split) found under data_root; return what was done per unit.

    A unit prepared before from another archive folder is only rebuilt with ``replace``."""
    root = check_data_root(data_root)
    keys = parse_dataset_list(list(datasets) if datasets else None)
    manifests = load_manifests(manifest_source, keys)
    store = PreparedStore(prepared_dir(home))
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    with store.locked():
        store.recover()
        plans = []
        for dataset, archive_root in locate_archives(root, keys, manifests, explicit=bool(datasets)).items():
            dataset_manifests = [manifests[dataset, split] for split in SPLITS]
            label_check = check_labels(READERS[dataset](archive_root), dataset_manifests)
            plans += [plan_unit(manifest, archive_root, label_check) for manifest in dataset_manifests]
        refuse_missing(plans, allow_missing)
        todo = [plan for plan in plans if not store.is_current(plan.name, plan.fingerprint)]
        refuse_replacing([(plan.name, record["archive_root"], plan.archive_root) for plan in todo
                          if (record := store.unit_record(plan.name))
                          and Path(record["archive_root"]) != plan.archive_root], "prepared units", store.root, replace)
        outcomes = {plan.name: UnitOutcome(plan.name, 0, len(plan.missing), 0, "up to date") for plan in plans}
        with tqdm(total=sum(len(plan.present) for plan in todo), desc="preparing", unit="img",
                  disable=not progress) as bar:
            for plan in todo:
                bar.set_postfix_str(plan.name)
                write_unit(plan, store, workers, bar, allow_missing)
                outcomes[plan.name].status = "prepared"
        for plan in plans:
            record = store.unit_record(plan.name)
            outcomes[plan.name].rows = record["rows"]
            outcomes[plan.name].unreadable = len(record["unreadable"])
    return list(outcomes.values())


def summary_table(outcomes: Sequence[UnitOutcome]) -> str:
    header = f"{'unit':<16}{'rows':>7}{'missing':>9}{'unreadable':>12}  status"
    lines = [header] + [f"{o.name:<16}{o.rows:>7}{o.missing:>9}{o.unreadable:>12}  {o.status}" for o in outcomes]
    lines.append(f"{'total':<16}{sum(o.rows for o in outcomes):>7}{sum(o.missing for o in outcomes):>9}"
                 f"{sum(o.unreadable for o in outcomes):>12}")
    return "\n".join(lines)

