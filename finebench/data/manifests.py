"""The official Fine-R1 test manifests: pinned, downloaded or read from disk, validated.

The benchmark *is* these twelve files (35,566 lines). They are never copied into the
project: users pass the folder they have, or finebench downloads them from the authors'
repository at a pinned commit and refuses any file whose sha256 differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.home import manifests_dir

from .registry import DATASET_KEYS, SPLITS, get_dataset

REPOSITORY = "PKU-ICST-MIPL/FineR1_ICLR2026"
COMMIT = "84cdc5cbdf7fc232d44e9f5d2713bf95d3ecdd7a"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/{REPOSITORY}/{COMMIT}/eval/data"
BASE_URL_VARIABLE = "FINEBENCH_MANIFEST_URL"  # a mirror of the eval/data folder
FOLDER_VARIABLE = "FINEBENCH_MANIFESTS"  # a local folder with the twelve files, instead of --manifests
TOTAL_LINES = 35_566
OPTIONS_PER_LINE = 4


@dataclass(frozen=True)
class ManifestSpec:
    dataset: str
    split: str
    sha256: str
    lines: int
    classes: int

    @property
    def filename(self) -> str:
        return f"{self.dataset}_{self.split}.jsonl"


SPECS: dict[tuple[str, str], ManifestSpec] = {
    (spec.dataset, spec.split): spec
    for spec in (
        ManifestSpec("aircraft", "seen", "92b5478c7674881ea051eae1e7c3cfcfef93a48a9fd7c5e55834f53c494647a0", 2002, 60),
        ManifestSpec("aircraft", "unseen", "b243f1e3e443b1b166d1bf2afc371a50695c520c403a71b4953268eaf0ddc316", 1331, 40),
        ManifestSpec("bird", "seen", "7c7c933e3698b435d7daba920223192de48f06d5769fde102d8d8aa547850f37", 3483, 120),
        ManifestSpec("bird", "unseen", "84238be465c2b00001c5c4425d8c6e1a2bf1b39c0f7ba08f19eafc7105129509", 2311, 80),
        ManifestSpec("car", "seen", "795404c49930521b7ed740baf9850f54be86d5a72dc94a5623e8d3533447d4d0", 4811, 117),
        ManifestSpec("car", "unseen", "a5eff1928f6f97571ba4ba3d5735630d49735e1f5d587efb60fb0178fa395818", 3230, 79),
        ManifestSpec("dog", "seen", "73015d36fdd29b82e4bd30c5ec2de7d4580de980e1c21f7fc30fda0b1cf62bac", 5276, 72),
        ManifestSpec("dog", "unseen", "8585686911b82895bc6cb51e21062eec4306688e2ed1c74051814abc12540719", 3304, 48),
        ManifestSpec("flower", "seen", "69e43e6cc57098e2e6cbc062d483fc22fe8b1ef816c082d99b435f71eac5d191", 4028, 61),
        ManifestSpec("flower", "unseen", "2fb62036194e0c9fe2cdec616f7ce9040c79e2fb0c5a6f2a95b59cf23c6f1382", 2121, 41),
        ManifestSpec("pet", "seen", "5d9310149a67a4c24fa786ddab466d45933d46051b917e5a73cb33fcde56af21", 2176, 22),
        ManifestSpec("pet", "unseen", "bfcfd0a0def278ca588d419cd795c336e1e36270f9b675f34d51ab687c2d7967", 1493, 15),
    )
}
assert sum(spec.lines for spec in SPECS.values()) == TOTAL_LINES


@dataclass(frozen=True)
class ManifestLine:
    index: int  # 0-based line number in the manifest file
    image_path: str
    question: str
    options: tuple[str, ...]  # the official order: the ground truth is always first
    ground_truth: str

    @property
    def basename(self) -> str:
        return self.image_path.rsplit("/", 1)[-1]

    @property
    def archive_path(self) -> str:
        """The image's path inside the official archive: image_path minus the manifest folder."""
        return self.image_path.split("/", 1)[1]


@dataclass(frozen=True)
class Manifest:
    dataset: str
    split: str
    sha256: str
    lines: tuple[ManifestLine, ...]

    @property
    def name(self) -> str:
        return f"{self.dataset}_{self.split}"

    @functools.cached_property  # validation and few-shot sampling ask for it repeatedly
    def classes(self) -> frozenset[str]:
        return frozenset(line.ground_truth for line in self.lines)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_mismatch(source: Path | str, spec: ManifestSpec, actual: str) -> FinebenchError:
    """source is a file or a URL (a string: Path would turn https:// into https:/)."""
    return FinebenchError(
        f"{source} is not the official {spec.filename}: sha256 {actual} instead of {spec.sha256}",
        f"use the unmodified file of {REPOSITORY} at commit {COMMIT[:7]} (eval/data/{spec.filename}), "
        "or drop --manifests to let finebench download it",
    )


def _parse_line(text: str, index: int, where: str) -> ManifestLine:
    try:
        record = json.loads(text)
        return ManifestLine(index, record["image_path"], record["question"],
                            tuple(record["options"]), record["ground_truth"])
    except (ValueError, KeyError, TypeError) as error:
        raise FinebenchError(
            f"{where} line {index + 1} is not a manifest record ({error})",
            "each line must be JSON with image_path, question, options and ground_truth",
        ) from None


def line_problems(line: ManifestLine, dataset: str) -> list[str]:
    """What is wrong with one manifest line, in words; empty when it is valid."""
    info = get_dataset(dataset)
    problems = []
    if len(line.options) != OPTIONS_PER_LINE or len(set(line.options)) != OPTIONS_PER_LINE:
        problems.append(f"needs {OPTIONS_PER_LINE} distinct options, has {list(line.options)}")
    if line.ground_truth not in line.options:
        problems.append(f"ground truth {line.ground_truth!r} is not among the options")
    unknown = [name for name in (line.ground_truth, *line.options) if not info.is_class(name)]
    if unknown:
        problems.append(f"names that are not {info.display_name} classes: {unknown}")
    if not line.image_path.startswith(info.manifest_folder + "/"):
        problems.append(f"image_path {line.image_path!r} is not under {info.manifest_folder}/")
    return problems


def validate(manifests: dict[tuple[str, str], Manifest]) -> None:
    """Check the facts of PROTOCOL.md; raise one error that lists every problem found."""
    problems = []
    for (dataset, split), manifest in manifests.items():
        spec = SPECS[dataset, split]
        if len(manifest.lines) != spec.lines:
            problems.append(f"{spec.filename}: {len(manifest.lines)} lines, expected {spec.lines}")
        if len(manifest.classes) != spec.classes:
            problems.append(f"{spec.filename}: {len(manifest.classes)} classes, expected {spec.classes}")
        basenames = [line.basename for line in manifest.lines]
        if len(set(basenames)) != len(basenames):
            problems.append(f"{spec.filename}: repeated image file names")
        for line in manifest.lines:
            problems += [f"{spec.filename} line {line.index + 1}: {p}" for p in line_problems(line, dataset)]
    for dataset in {dataset for dataset, _ in manifests}:
        if (dataset, "seen") in manifests and (dataset, "unseen") in manifests:
            shared = manifests[dataset, "seen"].classes & manifests[dataset, "unseen"].classes
            if shared:
                problems.append(f"{dataset}: classes both seen and unseen: {sorted(shared)[:5]}")
    if len(manifests) == len(SPECS):
        total = sum(len(m.lines) for m in manifests.values())
        if total != TOTAL_LINES:
            problems.append(f"{total} lines in all, expected {TOTAL_LINES}")
    if problems:
        shown = "\n  ".join(problems[:20])
        more = f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else ""
        raise FinebenchError(f"the manifests are not the official ones:\n  {shown}{more}",
                             "use the unmodified files of the release")


def read_manifest(path: Path, dataset: str, split: str) -> Manifest:
    """Read one manifest file, refusing it unless its sha256 is the pinned one."""
    spec = SPECS[dataset, split]
    if not path.is_file():
        raise FinebenchError(
            f"manifest {spec.filename} not found in {path.parent}",
            f"pass the folder that holds the twelve files of eval/data from {REPOSITORY}, "
            "or drop --manifests to download them",
        )
    actual = sha256_of(path)
    if actual != spec.sha256:
        raise _hash_mismatch(path, spec, actual)
    with open(path, encoding="utf-8") as handle:
        lines = tuple(_parse_line(text, index, str(path)) for index, text in enumerate(handle) if text.strip())
    return Manifest(dataset, split, actual, lines)


def download_manifest(spec: ManifestSpec, target_dir: Path, base_url: str | None = None) -> Path:
    """Fetch one manifest at the pinned commit into target_dir, verified before it lands."""
    base_url = (base_url or os.environ.get(BASE_URL_VARIABLE) or DEFAULT_BASE_URL).rstrip("/")
    url = f"{base_url}/{spec.filename}"
    target = target_dir / spec.filename
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise FinebenchError(
            f"could not download {url} ({getattr(error, 'reason', error)})",
            f"download eval/data/{spec.filename} of {REPOSITORY} at commit {COMMIT[:7]} by hand "
            "and pass its folder with --manifests",
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise _hash_mismatch(url, spec, actual)
    atomic.write_bytes(target, data)
    return target


def load_manifests(
    source: Path | None = None,
    datasets: Iterable[str] = DATASET_KEYS,
    download: bool = True,
) -> dict[tuple[str, str], Manifest]:
    """The validated manifests of the given datasets, keyed by (dataset, split).

    ``source`` is a folder holding the files (default: $FINEBENCH_MANIFESTS); without
    one, the download cache under FINEBENCH_HOME is used and missing files are
    downloaded (when ``download``).
    """
    source = source or os.environ.get(FOLDER_VARIABLE) or None
    folder = Path(source).expanduser() if source else manifests_dir()
    if source and not folder.is_dir():
        raise FinebenchError(f"manifest folder {folder} does not exist",
                             "pass the folder that holds aircraft_seen.jsonl … pet_unseen.jsonl")
    manifests = {}
    for dataset in datasets:
        for split in SPLITS:
            spec = SPECS[dataset, split]
            path = folder / spec.filename
            if source is None and download and not _is_verified(path, spec):
                download_manifest(spec, folder)
            manifests[dataset, split] = read_manifest(path, dataset, split)
    validate(manifests)
    return manifests


def _is_verified(path: Path, spec: ManifestSpec) -> bool:
    return path.is_file() and sha256_of(path) == spec.sha256
