"""`finebench download`: each dataset's files from its authors (or a mirror), verified, then unpacked.

A download folder is laid out as a mirror is, so that one folder on a shared disk or an internal
web server serves a whole lab (``--mirror file:///shared/finebench-archives``):

    <folder>/SHA256SUMS                the sha256 of every verified file ("<sha256>  <dataset>/<name>")
    <folder>/<dataset>/<name>          a verified file, as its authors distribute it
    <folder>/<dataset>/<name>.part     a transfer in progress (resumed by the next run)
    <folder>/<dataset>/...             what the archives unpack to: a data root for `finebench prepare`
    <folder>/.finebench-downloads.json what was verified (size, time) and unpacked, so a re-run reads nothing

A file gets its final name only once every check passed: the pinned MD5 where a public one exists,
the mirror's SHA256SUMS when read from a mirror, and the sha256 recorded at its first download (so a
re-download, or another node fetching into the same folder, must bring the same bytes).
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from finebench import atomic
from finebench.errors import FinebenchError
from finebench.home import archives_dir

from . import extract, transfer
from .registry import get_dataset, parse_dataset_list
from .sources import CARS_MANUAL, SourceFile, files_of

MIRROR_VARIABLE = "FINEBENCH_MIRROR"
SUMS_FILE = "SHA256SUMS"
STATE_FILE = ".finebench-downloads.json"
PART_SUFFIX = ".part"
FREE_MARGIN = 1 << 30  # room left on the disk beyond what the download and its unpacking take
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64}) [ *](.+)$")


@dataclass
class Outcome:
    key: str
    status: str  # "downloaded" | "up to date" | "verified" (found in place, checked) | "missing"
    size: int = 0
    unpacked: str = ""  # what unpacking it put in place, when this run unpacked it


def parse_sums(text: str, where: str) -> dict[str, str]:
    """``sha256sum`` output: "<hex>  <dataset>/<name>" lines; anything else is an error naming the line."""
    sums = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        match = _SUM_LINE.match(line.rstrip("\r"))
        if not match:
            raise FinebenchError(f"{where} line {number} is not '<sha256>  <dataset>/<file name>': {line[:80]!r}",
                                 f"write {SUMS_FILE} with `sha256sum */*` in the folder")
        sums[match.group(2).removeprefix("./")] = match.group(1).lower()
    return sums


def format_sums(sums: dict[str, str]) -> str:
    return "".join(f"{sha}  {key}\n" for key, sha in sorted(sums.items()))


def mirror_base() -> str | None:
    return os.environ.get(MIRROR_VARIABLE) or None


def read_mirror_sums(mirror: str) -> dict[str, str]:
    url = f"{mirror.rstrip('/')}/{SUMS_FILE}"
    try:
        text = transfer.read_text(url)
    except transfer.TransferError as error:
        raise FinebenchError(f"mirror {mirror}: cannot read {url} ({error})",
                             f"a mirror holds <dataset>/<file name> and a {SUMS_FILE} at its base: "
                             "`finebench download --to DIR` makes one; or drop --mirror / unset "
                             f"{MIRROR_VARIABLE}") from None
    return parse_sums(text, url)


class DownloadFolder:
    """The folder's record of verified files (SHA256SUMS, and their size and time), read once, saved atomically."""

    def __init__(self, root: Path):
        self.root = root
        self.sums = parse_sums((root / SUMS_FILE).read_text("utf-8"), str(root / SUMS_FILE)) \
            if (root / SUMS_FILE).is_file() else {}
        try:
            self.state = json.loads((root / STATE_FILE).read_text("utf-8")) if (root / STATE_FILE).is_file() else {}
        except ValueError:
            self.state = {}  # only a cache: files are hashed again

    def path(self, source: SourceFile) -> Path:
        return self.root / source.dataset / source.name

    def part(self, source: SourceFile) -> Path:
        return self.root / source.dataset / (source.name + PART_SUFFIX)

    def unchanged(self, source: SourceFile) -> bool:
        """Verified by an earlier run and not touched since (size and time as recorded)."""
        record, path = self.state.get(source.key), self.path(source)
        if not record or source.key not in self.sums or record.get("sha256") != self.sums[source.key]:
            return False
        try:
            stat = path.stat()
        except OSError:
            return False
        return (stat.st_size, stat.st_mtime_ns) == (record["bytes"], record["mtime_ns"])

    def record(self, source: SourceFile, sha256: str, unpacked: Sequence[str] | None = None) -> None:
        stat = self.path(source).stat()
        previous = self.state.get(source.key, {})
        self.sums[source.key] = sha256
        self.state[source.key] = {"sha256": sha256, "bytes": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                  "unpacked": list(unpacked) if unpacked is not None else
                                  (previous.get("unpacked") if previous.get("sha256") == sha256 else None)}
        atomic.write_text(self.root / SUMS_FILE, format_sums(self.sums))
        atomic.write_json(self.root / STATE_FILE, self.state)

    def is_unpacked(self, source: SourceFile) -> bool:
        names = self.state.get(source.key, {}).get("unpacked")
        return names is not None and all((self.root / source.dataset / name).exists() for name in names)


def _check(source: SourceFile, hashes: transfer.Hashes, origin: str, expected: dict[str, str]) -> None:
    """Refuse bytes whose digest is not the one every authority (pinned, mirror, first download) names."""
    actual_sha = hashes.sha256.hexdigest()
    if source.md5 and hashes.md5.hexdigest() != source.md5:
        raise _mismatch(source, origin, "md5", hashes.md5.hexdigest(), source.md5, "finebench pins (the public sum)")
    for who, sha in expected.items():
        if actual_sha != sha:
            raise _mismatch(source, origin, "sha256", actual_sha, sha, who)


def _mismatch(source: SourceFile, origin: str, kind: str, actual: str, expected: str, who: str) -> FinebenchError:
    return FinebenchError(
        f"{source.key} from {origin} is refused: its {kind} is {actual}, but {who} says {expected}; "
        "nothing of it was kept or unpacked",
        "run the same command again to fetch it anew; if it fails the same way, the file at the source is not the "
        "one the benchmark uses: fetch it from another mirror (--mirror URL), or, if its distributor changed it on "
        f"purpose, delete its line from {SUMS_FILE} in the download folder",
    )


def _unreachable(source: SourceFile, url: str, folder: Path, reason: str) -> FinebenchError:
    return FinebenchError(
        f"cannot fetch {source.key} from {url}: {reason}",
        f"check the network (a proxy is read from HTTPS_PROXY), or fetch it from a mirror (--mirror URL, or "
        f"{MIRROR_VARIABLE}), or download {url} by hand into {folder / source.dataset}/ and run the same command "
        "again (the file is then verified in place)",
    )


class Downloader:
    def __init__(self, folder: Path, mirror: str | None, progress: bool):
        self.folder = DownloadFolder(folder)
        self.mirror = mirror.rstrip("/") if mirror else None
        self.mirror_sums = read_mirror_sums(self.mirror) if self.mirror else {}
        self.progress = progress

    def url(self, source: SourceFile) -> str | None:
        if self.mirror is None:
            return source.url
        return f"{self.mirror}/{source.key}" if source.key in self.mirror_sums else None

    def authorities(self, source: SourceFile) -> dict[str, str]:
        expected = {}
        if source.key in self.mirror_sums:
            expected[f"the mirror's {SUMS_FILE}"] = self.mirror_sums[source.key]
        if source.key in self.folder.sums:
            expected[f"{self.folder.root / SUMS_FILE} (recorded at its first download)"] = self.folder.sums[source.key]
        return expected

    def verify_in_place(self, source: SourceFile) -> bool:
        """True for a file already there and verified (hashing it only when it is new to the record)."""
        path = self.folder.path(source)
        if not path.is_file():
            return False
        if self.folder.unchanged(source):
            return True
        hashes = transfer.Hashes(with_md5=bool(source.md5))
        hashes.feed_file(path)
        _check(source, hashes, str(path), self.authorities(source))
        self.folder.record(source, hashes.sha256.hexdigest())
        return True

    def fetch(self, source: SourceFile, url: str, bar: tqdm) -> int:
        part = self.folder.part(source)
        part.parent.mkdir(parents=True, exist_ok=True)
        hashes = transfer.Hashes(with_md5=bool(source.md5))
        try:
            size = transfer.fetch(url, part, hashes, bar.update)
        except transfer.TransferError as error:
            raise _unreachable(source, url, self.folder.root, str(error)) from None
        try:
            _check(source, hashes, url, self.authorities(source))
        except FinebenchError:
            part.unlink(missing_ok=True)  # corrupt bytes are never resumed from
            raise
        os.replace(part, self.folder.path(source))
        self.folder.record(source, hashes.sha256.hexdigest())
        return size

    def unpack(self, source: SourceFile) -> str:
        if not source.is_archive or self.folder.is_unpacked(source):
            return ""
        names = extract.extract(self.folder.path(source), self.folder.root / source.dataset)
        self.folder.record(source, self.folder.sums[source.key], unpacked=names)
        return ", ".join(names)


def _sizes(downloader: Downloader, todo: Sequence[tuple[SourceFile, str]]) -> dict[str, int | None]:
    sizes = {}
    for source, url in todo:
        try:
            sizes[source.key] = transfer.remote_size(url)
        except transfer.TransferError as error:
            raise _unreachable(source, url, downloader.folder.root, str(error)) from None
    return sizes


def check_free_space(folder: Path, todo: Sequence[tuple[SourceFile, str]], sizes: dict[str, int | None],
                     parts: dict[str, int]) -> None:
    """Refuse to start a download the disk cannot hold, with its unpacking (about the archive's size again)."""
    transfer_bytes = sum(max(0, (sizes[s.key] or 0) - parts[s.key]) for s, _ in todo)
    unpack_bytes = sum(sizes[s.key] or 0 for s, _ in todo if s.is_archive)
    needed = transfer_bytes + unpack_bytes
    free = shutil.disk_usage(folder).free
    if needed and free < needed + FREE_MARGIN:
        raise FinebenchError(
            f"{folder} has {free / 2**30:.1f} GiB free; the download needs about {needed / 2**30:.1f} GiB "
            f"({transfer_bytes / 2**30:.1f} to fetch, {unpack_bytes / 2**30:.1f} to unpack) plus 1 GiB to spare",
            "free some space, or pass --to a folder on a larger disk")


def download(datasets: Sequence[str] | None = None, folder: Path | None = None, mirror: str | None = None,
             progress: bool = True, explicit: bool | None = None) -> list[Outcome]:
    """Fetch, verify and unpack the files of ``datasets`` (all six when None) into ``folder``.

    Stanford Cars' files have no public source: without a mirror or a copy in place they are reported
    "missing" with the manual steps when Cars came with the default selection, and refused when it was
    asked for by name (``explicit``, by default: datasets were named)."""
    explicit = bool(datasets) if explicit is None else explicit
    keys = parse_dataset_list(list(datasets) if datasets else None)
    folder = Path(folder or archives_dir()).expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    busy = FinebenchError(f"another finebench download is writing into {folder}",
                          "wait for it to finish (it resumes anything it had started), or use another --to")
    with atomic.exclusive(folder / ".lock", busy):
        for dataset in keys:
            extract.recover(folder / dataset)
        downloader = Downloader(folder, mirror or mirror_base(), progress)
        outcomes, todo = {}, []
        for dataset in keys:
            for source in files_of(dataset):
                if downloader.verify_in_place(source):
                    size = downloader.folder.path(source).stat().st_size
                    outcomes[source.key] = Outcome(source.key, "up to date", size)
                elif (url := downloader.url(source)) is not None:
                    todo.append((source, url))
                else:
                    outcomes[source.key] = Outcome(source.key, "missing")
        _refuse_unavailable(downloader, keys, outcomes, explicit)
        sizes = _sizes(downloader, todo)
        parts = {s.key: downloader.folder.part(s).stat().st_size if downloader.folder.part(s).is_file() else 0
                 for s, _ in todo}
        check_free_space(folder, todo, sizes, parts)
        for source, url in todo:
            with tqdm(total=sizes[source.key], desc=source.key, unit="B", unit_scale=True, unit_divisor=1024,
                      disable=not progress, leave=True) as bar:
                outcomes[source.key] = Outcome(source.key, "downloaded", downloader.fetch(source, url, bar))
        for dataset in keys:
            for source in files_of(dataset):
                if outcomes[source.key].status != "missing":
                    outcomes[source.key].unpacked = downloader.unpack(source)
    return [outcomes[source.key] for dataset in keys for source in files_of(dataset)]


def _refuse_unavailable(downloader: Downloader, keys: Sequence[str], outcomes: dict[str, Outcome],
                        explicit: bool) -> None:
    """Files no source can give: Cars' without a mirror (told, or refused when asked for by name); any other
    dataset's missing from a mirror (refused: a lab's mirror that lacks a file is a mistake to fix)."""
    missing = [key for key, outcome in outcomes.items() if outcome.status == "missing"]
    if not missing:
        return
    if downloader.mirror and any(not key.startswith("car/") for key in missing):
        raise FinebenchError(f"mirror {downloader.mirror} lacks {', '.join(missing)} (not in its {SUMS_FILE})",
                             "add them to the mirror (`finebench download --to <the mirror's folder>` fetches and "
                             "lists them), or drop --mirror for these datasets")
    if explicit and "car" in keys:
        raise FinebenchError(f"{', '.join(missing)}: not in {downloader.folder.root / 'car'}",
                             CARS_MANUAL.format(folder=downloader.folder.root))


def summary(outcomes: Sequence[Outcome], folder: Path) -> str:
    """What happened to each file, then what to do next."""
    rows = [f"{'file':<36}{'size':>10}  status"]
    for outcome in outcomes:
        size = f"{outcome.size / 2**20:,.1f} MiB" if outcome.size else ""
        unpacked = f" (unpacked: {outcome.unpacked})" if outcome.unpacked else ""
        rows.append(f"{outcome.key:<36}{size:>10}  {outcome.status}{unpacked}")
    if any(outcome.status == "missing" and outcome.key.startswith("car/") for outcome in outcomes):
        rows.append("\n" + CARS_MANUAL.format(folder=folder))
    missing = {outcome.key.split("/")[0] for outcome in outcomes if outcome.status == "missing"}
    datasets = sorted({outcome.key.split("/")[0] for outcome in outcomes} - missing)
    names = ", ".join(get_dataset(key).display_name for key in datasets)
    rows.append(f"\n{names or 'nothing'} in {folder}; next: finebench prepare --data-root {folder}")
    return "\n".join(rows)
