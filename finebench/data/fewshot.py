"""k-shot training sets from the official train splits, for the trainers.

For each seen class (a class of the ``seen`` manifest), k images are drawn from the
archive's non-test splits with a generator seeded by (seed, dataset, class), so a set
depends only on the archive's metadata and the seed. Unseen classes and test images can
never enter: the pool excludes both, and the result is checked again before writing.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.home import fewshot_dir, prepared_dir

from . import imagetable
from .archives import READERS, TEST, ArchiveImage
from .ids import sample_id
from .manifests import Manifest, load_manifests
from .prepare import check_data_root, locate_archives, refuse_replacing
from .registry import get_dataset, parse_dataset_list
from .store import METADATA_FILE, PreparedStore

DEFAULT_SHOTS = 4
DEFAULT_SEEDS = (1, 2, 3)


@dataclass(frozen=True)
class FewShotSet:
    dataset: str
    shots: int
    seed: int
    images: tuple[ArchiveImage, ...]

    @property
    def name(self) -> str:
        return fewshot_name(self.dataset, self.shots, self.seed)


def fewshot_name(dataset: str, shots: int, seed: int) -> str:
    """A set's name: its key in the few-shot metadata.json and the stem of its parquet file."""
    return f"{dataset}_{shots}shot_seed{seed}"


def fewshot_path(dataset: str, shots: int, seed: int, home: Path | None = None) -> Path:
    return fewshot_dir(home) / f"{fewshot_name(dataset, shots, seed)}.parquet"


def training_pool(images: Sequence[ArchiveImage], seen: Manifest, unseen: Manifest) -> dict[str, list[ArchiveImage]]:
    """Non-test images of seen classes, by class, in a fixed (path) order."""
    test_paths = {line.archive_path for manifest in (seen, unseen) for line in manifest.lines}
    test_paths |= {image.path for image in images if image.split == TEST}
    pool: dict[str, list[ArchiveImage]] = {name: [] for name in sorted(seen.classes)}
    for image in images:
        if image.split != TEST and image.path not in test_paths and image.class_name in pool:
            pool[image.class_name].append(image)
    for candidates in pool.values():
        candidates.sort(key=lambda image: image.path)
    return pool


def sample_fewshot(pool: dict[str, list[ArchiveImage]], dataset: str, shots: int, seed: int) -> FewShotSet:
    short = {name: len(images) for name, images in pool.items() if len(images) < shots}
    if short:
        raise FinebenchError(
            f"{dataset}: {len(short)} seen classes have fewer than {shots} training images, "
            f"e.g. {next(iter(short.items()))}",
            "use a smaller --shots, or check that the archive's train split is complete",
        )
    chosen = []
    for name, candidates in pool.items():
        chosen += random.Random(f"{seed}:{dataset}:{name}").sample(candidates, shots)
    return FewShotSet(dataset, shots, seed, tuple(chosen))


def _check(fewshot: FewShotSet, seen: Manifest, unseen: Manifest) -> None:
    test_paths = {line.archive_path for manifest in (seen, unseen) for line in manifest.lines}
    leaked = [image.path for image in fewshot.images
              if image.class_name not in seen.classes or image.path in test_paths]
    if leaked:  # the pool excludes these; reaching here means a bug, never a user error
        raise AssertionError(f"{fewshot.name} would contain unseen-class or test images: {leaked[:3]}")


def _rows(fewshot: FewShotSet, archive_root: Path) -> list[dict]:
    info = get_dataset(fewshot.dataset)
    rows = []
    for image in fewshot.images:
        path = archive_root / image.path
        try:
            loaded = imagetable.load_image(path)
        except (OSError, imagetable.UnreadableImage) as error:
            raise FinebenchError(f"{fewshot.name}: training image {path} cannot be read ({error})",
                                 f"extract {info.archive_name} again (its train split is needed)") from None
        rows.append({
            "sample_id": sample_id(fewshot.dataset, image.path, train=True),
            "dataset": fewshot.dataset,
            "class_name": image.class_name,
            "class_id": info.class_id(image.class_name),
            "image": imagetable.image_cell(loaded, image.path.rsplit("/", 1)[-1]),
            "archive_path": image.path,
            "archive_split": image.split,
            "width": loaded.width,
            "height": loaded.height,
        })
    return rows


def _fingerprint(fewshot: FewShotSet, archive_root: Path) -> str:
    digest = hashlib.sha256(fewshot.name.encode())
    for image in fewshot.images:
        try:
            stat = (archive_root / image.path).stat()
            state = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            state = "missing"  # reported when the set is written
        digest.update(f"{image.path}:{image.class_name}:{state};".encode())
    return digest.hexdigest()


def write_fewshot_sets(
    dataset: str,
    archive_root: Path,
    seen: Manifest,
    unseen: Manifest,
    shots: int = DEFAULT_SHOTS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    home: Path | None = None,
    replace: bool = False,
) -> list[tuple[Path, str]]:
    """Write one parquet per seed; return (path, "written" | "up to date") per set.

    A set written before from another archive folder is only replaced with ``replace``."""
    reader = READERS[dataset](archive_root)
    pool = training_pool(list(reader.iter_images()), seen, unseen)
    metadata_path = fewshot_dir(home) / METADATA_FILE
    metadata = json.loads(metadata_path.read_text("utf-8")) if metadata_path.is_file() else {}
    sets = []
    for seed in seeds:
        fewshot = sample_fewshot(pool, dataset, shots, seed)
        _check(fewshot, seen, unseen)
        sets.append((fewshot, fewshot_path(dataset, shots, seed, home), _fingerprint(fewshot, archive_root)))
    earlier = {fewshot.name: metadata.get(fewshot.name, {}) for fewshot, _, _ in sets}
    refuse_replacing([(fewshot.name, earlier[fewshot.name]["archive_root"], archive_root)
                      for fewshot, path, fingerprint in sets
                      if path.is_file() and earlier[fewshot.name].get("fingerprint") != fingerprint
                      and Path(earlier[fewshot.name].get("archive_root", archive_root)) != archive_root],
                     "few-shot sets", fewshot_dir(home), replace)
    results = []
    for fewshot, path, fingerprint in sets:
        if path.is_file() and metadata.get(fewshot.name, {}).get("fingerprint") == fingerprint:
            results.append((path, "up to date"))
            continue
        imagetable.write_table(path, _rows(fewshot, archive_root), imagetable.fewshot_features())
        metadata[fewshot.name] = {"fingerprint": fingerprint, "file": path.name, "rows": len(fewshot.images),
                                  "classes": len(pool), "shots": shots, "seed": seed,
                                  "archive_root": str(archive_root)}
        atomic.write_json(metadata_path, metadata)
        results.append((path, "written"))
    return results


def prepare_fewshot(
    data_root: Path | str,
    manifest_source: Path | None = None,
    datasets: Sequence[str] | None = None,
    shots: int = DEFAULT_SHOTS,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    home: Path | None = None,
    replace: bool = False,
) -> list[tuple[Path, str]]:
    """Write the k-shot sets of every dataset found under data_root whose train metadata is complete.

    Datasets found without their metadata are reported and skipped, unless named in
    ``datasets``, where the missing files are an error.
    """
    if shots < 1:
        raise FinebenchError(f"--shots must be at least 1, not {shots}", "use e.g. --shots 4")
    root = check_data_root(data_root)
    keys = parse_dataset_list(list(datasets) if datasets else None)
    manifests = load_manifests(manifest_source, keys)
    results = []
    with PreparedStore(prepared_dir(home)).locked():
        for dataset, archive_root in locate_archives(root, keys, manifests, explicit=bool(datasets)).items():
            missing = READERS[dataset](archive_root).missing_metadata()
            if missing and not datasets:
                print(f"few-shot sets skipped for {dataset}: {', '.join(missing)} not found under {archive_root}")
                continue
            results += write_fewshot_sets(dataset, archive_root, manifests[dataset, "seen"],
                                          manifests[dataset, "unseen"], shots, seeds, home, replace)
    return results
