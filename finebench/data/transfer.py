"""Moving one file's bytes from a URL into a partial file, resumably, hashing as they arrive.

http(s) goes through requests with urllib3's Retry (backoff on refused connections, timeouts and
5xx answers; proxies from HTTP_PROXY/HTTPS_PROXY/NO_PROXY, as every requests user expects); what
is added here is the resume: a partial file is continued with a Range request, and a transfer cut
mid-body is picked up where it stopped. Every other URL (file://, s3://, gs://, a plain path) is
opened with fsspec and continued by seeking. Neither pooch nor huggingface_hub's http_get fits:
pooch cannot resume, and http_get is a Hub-internal helper whose timeouts are module constants and
whose errors speak of the Hub.

The caller owns the partial file's name and decides what a finished transfer is worth (the hashes);
nothing here renames anything.
"""

from __future__ import annotations

import functools
import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from finebench.errors import FinebenchError

CHUNK = 1 << 20
TIMEOUT_VARIABLE = "FINEBENCH_DOWNLOAD_TIMEOUT"  # seconds to connect, and between two reads of the body
DEFAULT_TIMEOUT = 30.0
STALLED_ATTEMPTS = 5  # consecutive attempts that bring no new byte before a transfer gives up
GONE = (401, 403, 404, 410)
_READ_RETRIES = 2  # answers that retrying cannot change


def timeout() -> float:
    text = os.environ.get(TIMEOUT_VARIABLE)
    try:
        return float(text) if text else DEFAULT_TIMEOUT
    except ValueError:
        raise FinebenchError(f"{TIMEOUT_VARIABLE}={text!r} is not a number of seconds",
                             f"set {TIMEOUT_VARIABLE} to e.g. 30, or unset it") from None


@dataclass
class Hashes:
    """The digests of a file, fed as its bytes go by (md5 only where a pinned md5 will be checked)."""

    with_md5: bool
    sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    md5: "hashlib._Hash | None" = None

    def __post_init__(self):
        if self.with_md5:
            self.md5 = hashlib.md5(usedforsecurity=False)

    def update(self, data: bytes) -> None:
        if self.md5 is None:
            self.sha256.update(data)
            return
        # MD5 in a helper thread while SHA-256 runs here: hashlib lets go of the GIL on buffers this size, so
        # on two cores a chunk costs the slower digest (MD5), not both one after the other
        md5 = _digest_thread().submit(self.md5.update, data)
        self.sha256.update(data)
        md5.result()

    def feed_file(self, path: Path) -> int:
        """Hash what a partial file already holds; return its size."""
        size = 0
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                self.update(block)
                size += len(block)
        return size


@functools.lru_cache(maxsize=1)
def _digest_thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(1, thread_name_prefix="finebench-md5")


class TransferError(Exception):
    """A transfer that failed for a reason worth telling the user as is (status, refusal, timeout)."""


def is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def filesystem(url: str):
    """(fsspec filesystem, path) of a URL or folder; a file:// URL is percent-decoded as browsers and
    Path.as_uri write it (fsspec would keep "%20" as three characters of a folder name)."""
    import fsspec

    if url.startswith("file://"):
        from urllib.parse import unquote, urlsplit

        url = unquote(urlsplit(url).path)
    return fsspec.core.url_to_fs(url)


def _session():
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=4, connect=3, read=_READ_RETRIES, status=3, backoff_factor=0.5, allowed_methods=("GET", "HEAD"),
                  status_forcelist=(429, 500, 502, 503, 504), respect_retry_after_header=True,
                  raise_on_status=False)
    session = requests.Session()
    for scheme in ("http://", "https://"):
        session.mount(scheme, HTTPAdapter(max_retries=retry))
    return session


def _describe(error: Exception) -> str:
    """A short reason for a requests/urllib3 failure (their messages nest the cause several times)."""
    import requests

    if isinstance(error, requests.exceptions.ConnectTimeout):
        return f"no answer within {timeout():g} s while connecting"
    if isinstance(error, (requests.exceptions.ReadTimeout, requests.exceptions.Timeout)):
        return f"the server sent nothing for {timeout():g} s"
    if isinstance(error, requests.exceptions.ConnectionError):
        text = str(error)
        if "Read timed out" in text:  # read retries used up: requests reports it as a connection error
            return f"the server sent nothing for {timeout():g} s (tried {1 + _READ_RETRIES} times)"
        for marker in ("Connection refused", "Name or service not known", "Temporary failure in name resolution",
                       "No route to host", "Network is unreachable", "Connection reset"):
            if marker in text:
                return marker.lower()
        return "the connection failed"
    return str(error)


def remote_size(url: str) -> int | None:
    """The file's size in bytes without fetching it, or None when the server does not say."""
    if is_http(url):
        import requests

        try:
            with _session() as session:
                response = session.head(url, allow_redirects=True, timeout=timeout())
        except requests.exceptions.RequestException as error:
            raise TransferError(_describe(error)) from None
        if response.status_code in GONE:
            raise TransferError(f"HTTP {response.status_code} {response.reason}")
        length = response.headers.get("Content-Length")
        return int(length) if response.ok and length and length.isdigit() else None
    try:
        fs, path = filesystem(url)
        return int(fs.info(path)["size"])
    except FileNotFoundError:
        raise TransferError("no such file") from None
    except OSError as error:
        raise TransferError(str(error)) from None


def read_text(url: str) -> str:
    """A small text file (a mirror's SHA256SUMS) from any URL."""
    if is_http(url):
        import requests

        try:
            with _session() as session:
                response = session.get(url, timeout=timeout())
        except requests.exceptions.RequestException as error:
            raise TransferError(_describe(error)) from None
        if not response.ok:
            raise TransferError(f"HTTP {response.status_code} {response.reason}")
        return response.text
    try:
        fs, path = filesystem(url)
        with fs.open(path, "rt", encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:  # FileNotFoundError included
        raise TransferError(str(error) or type(error).__name__) from None


def fetch(url: str, part: Path, hashes: Hashes, progress: Callable[[int], None]) -> int:
    """Continue (or start) ``part`` from ``url`` until the source has no more bytes; return the size.

    ``hashes`` ends holding the digests of the whole file, partial bytes from earlier runs included;
    ``progress`` is called with each chunk's length (and once with the bytes already there)."""
    done = hashes.feed_file(part) if part.exists() else 0
    progress(done)
    copy = _fetch_http if is_http(url) else _fetch_fsspec
    stalled = 0
    while True:
        before = done
        try:
            return copy(url, part, done, hashes, progress)
        except _Interrupted as cut:
            done = cut.size
        stalled = 0 if done > before else stalled + 1
        if stalled >= STALLED_ATTEMPTS:
            raise TransferError(f"the transfer stopped at {done:,} bytes {STALLED_ATTEMPTS} times in a row")
        time.sleep(min(8.0, 0.5 * 2 ** stalled))


class _Interrupted(Exception):
    """The body stopped mid-way; ``size`` bytes are safely in the partial file."""

    def __init__(self, size: int):
        self.size = size


def _append(part: Path, chunks, done: int, hashes: Hashes, progress: Callable[[int], None], errors) -> int:
    with open(part, "ab") as handle:
        try:
            for chunk in chunks:
                if chunk:
                    handle.write(chunk)
                    hashes.update(chunk)
                    done += len(chunk)
                    progress(len(chunk))
        except errors:
            handle.flush()
            raise _Interrupted(done) from None
    return done


def _restart(part: Path, hashes: Hashes, done: int, progress: Callable[[int], None]) -> None:
    """Begin again from byte 0: the server ignored the Range request."""
    part.unlink(missing_ok=True)
    fresh = Hashes(hashes.with_md5)
    hashes.sha256, hashes.md5 = fresh.sha256, fresh.md5
    progress(-done)


def _fetch_http(url: str, part: Path, done: int, hashes: Hashes, progress: Callable[[int], None]) -> int:
    import requests

    # identity: the bytes of the file itself, so that a Range offset counts the same bytes the part holds
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={done}-"} if done else {})}
    try:
        with _session() as session, session.get(url, headers=headers, stream=True, timeout=timeout()) as response:
            if response.status_code == 416 and done:  # nothing after byte `done`: the part is whole
                return done
            if response.status_code in GONE or not response.ok:
                raise TransferError(f"HTTP {response.status_code} {response.reason}")
            if done and response.status_code != 206:
                _restart(part, hashes, done, progress)
                done = 0
            # read1: what has arrived, so that a connection cut mid-chunk keeps the bytes before the cut
            body = iter(lambda: response.raw.read1(CHUNK, decode_content=True), b"")
            return _append(part, body, done, hashes, progress, (requests.exceptions.RequestException, OSError,
                                                                 _urllib3_errors()))
    except requests.exceptions.RequestException as error:
        if isinstance(error, (requests.exceptions.ConnectionError, requests.exceptions.Timeout)) and done:
            raise _Interrupted(done) from None
        raise TransferError(_describe(error)) from None


def _urllib3_errors():
    from urllib3.exceptions import HTTPError

    return HTTPError


def _fetch_fsspec(url: str, part: Path, done: int, hashes: Hashes, progress: Callable[[int], None]) -> int:
    try:
        fs, path = filesystem(url)
        with fs.open(path, "rb") as source:
            source.seek(done)
            return _append(part, iter(lambda: source.read(CHUNK), b""), done, hashes, progress, (ConnectionError,))
    except FileNotFoundError:
        raise TransferError("no such file") from None
