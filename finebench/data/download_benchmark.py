"""`finebench bench download`: the download's throughput against `cat`, and a pull against a prepare.

Stand-in archives (generated JPEGs, not timed) are packed as the official files into a mirror folder,
which a separate process serves over loopback (Python's http.server: an internal web server a lab
might run). Measured in one run, so the ratios hold whatever the machine's load:

    download   every file fetched and verified (sha256, and MD5 where pinned) by the real transfer code,
               against `cat` of the same files into a folder on the same disk (target: >= 80 %)
    pull       `finebench data pull` of a pushed copy against `finebench prepare` of the archives
               (target: <= 1.5x)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

from tqdm.auto import tqdm

from .fixtures import write_archives
from .manifests import load_manifests
from .registry import parse_dataset_list

DOWNLOAD_TARGET = 0.80
PULL_TARGET = 1.5


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                               "--directory", str(folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("the loopback server did not start")


def _time_cat(files: Sequence[Path], target: Path) -> float:
    target.mkdir(parents=True)
    start = time.perf_counter()
    for index, path in enumerate(files):
        with open(target / f"{index}-{path.name}", "wb") as out:
            subprocess.run(["cat", str(path)], stdout=out, check=True)
    return time.perf_counter() - start


def _time_download(mirror: Path, mirror_url: str, folder: Path, keys: Sequence[str]) -> float:
    from . import sources
    from .download import Downloader
    from .standin_files import sources_served_by

    # the stand-ins' own MD5s stand for the pinned ones, which the real files have
    sources.SOURCES = sources_served_by(mirror, mirror_url)
    files_of = sources.files_of
    folder.mkdir(parents=True)
    downloader = Downloader(folder, mirror_url, progress=False)
    chosen = [source for dataset in keys for source in files_of(dataset)]
    start = time.perf_counter()
    for source in chosen:
        with tqdm(disable=True) as bar:
            downloader.fetch(source, downloader.url(source), bar)
    return time.perf_counter() - start


def _time_command(arguments: Sequence[str], home: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "finebench", *arguments], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "FINEBENCH_HOME": str(home)})
    return time.perf_counter() - start


def bench_download(manifest_source: Path | None, datasets: Sequence[str] | None, size: tuple[int, int],
                   workdir: Path | None) -> str:
    from .standin_files import write_mirror

    keys = parse_dataset_list(list(datasets) if datasets else ["flower", "pet"])
    manifests = load_manifests(manifest_source, keys)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)  # --workdir names a folder to work in, made if new
    with tempfile.TemporaryDirectory(prefix="finebench-bench-download-", dir=workdir) as scratch:
        root = Path(scratch)
        print(f"generating stand-in archives of {', '.join(keys)} at {size[0]}x{size[1]} (not timed) ...",
              file=sys.stderr)
        write_archives(root / "archives", manifests, keys, train_per_class=2, size=size, progress=True,
                       workers=max(1, min(4, os.cpu_count() or 1)))
        write_mirror(root / "archives", root / "mirror", keys)
        files = sorted(path for path in (root / "mirror").rglob("*")
                       if path.is_file() and path.parent != root / "mirror")  # the archives, not SHA256SUMS
        total = sum(path.stat().st_size for path in files)
        server, url = _serve(root / "mirror")
        try:
            cat_seconds = _time_cat(files, root / "cat")
            download_seconds = _time_download(root / "mirror", url, root / "downloaded", keys)
        finally:
            server.kill()
            server.wait()
        manifest_args = ["--manifests", str(manifest_source)] if manifest_source else []
        prepare_seconds = _time_command(["prepare", "--data-root", str(root / "archives"), "--datasets", *keys,
                                         "--no-fewshot", *manifest_args], root / "home-a")
        _time_command(["data", "push", str(root / "pushed")], root / "home-a")
        pull_seconds = _time_command(["data", "pull", str(root / "pushed")], root / "home-b")
    download_share = cat_seconds / download_seconds
    pull_ratio = pull_seconds / prepare_seconds
    mib = total / 2**20
    return "\n".join([
        f"{len(files)} files, {mib:,.1f} MiB ({', '.join(keys)}, stand-in JPEGs {size[0]}x{size[1]})",
        f"cat into the same disk      {cat_seconds:7.2f} s  {mib / cat_seconds:8.1f} MiB/s",
        f"download over loopback      {download_seconds:7.2f} s  {mib / download_seconds:8.1f} MiB/s  "
        f"= {download_share:.0%} of cat (target >= {DOWNLOAD_TARGET:.0%}): "
        f"{'met' if download_share >= DOWNLOAD_TARGET else 'MISSED'}",
        f"prepare from the archives   {prepare_seconds:7.2f} s",
        f"pull of a pushed copy       {pull_seconds:7.2f} s  = {pull_ratio:.2f}x prepare (target <= {PULL_TARGET}x): "
        f"{'met' if pull_ratio <= PULL_TARGET else 'MISSED'}",
    ])
