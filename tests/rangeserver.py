"""A loopback file server that honours HTTP Range requests, with the faults downloads must survive.

Serves the files of a folder at http://127.0.0.1:<free port>/<relative path> (HEAD and GET, 206 for
``Range: bytes=N-``). Faults, set per relative path:

    cut_after[path] = n    the next GET of path stops after n bytes of body, the connection dropped
    hang.add(path)         GETs and HEADs of path are accepted and never answered
    corrupt[path] = bytes  served instead of the file's bytes

``requests`` keeps (method, path, Range header) of every request, so tests can assert what was asked.
It also runs alone (``python tests/rangeserver.py FOLDER PORTFILE``) for benchmarks and kill tests.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlsplit

_RANGE = re.compile(r"^bytes=(\d+)-$")
BLOCK = 1 << 20


class RangeServer:
    def __init__(self, folder: Path, rate: int | None = None):
        self.folder = Path(folder)
        self.rate = rate  # bytes per second per response, to make transfers long enough to kill
        self.cut_after: dict[str, int] = {}
        self.hang: set[str] = set()
        self.corrupt: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.bytes_sent = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def __enter__(self) -> Self:
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def gets(self, path: str) -> list[str | None]:
        """The Range header of every GET of path, in order (None: the whole file)."""
        return [range_ for method, asked, range_ in self.requests if method == "GET" and asked == path]


class _Handler(BaseHTTPRequestHandler):
    server_owner: RangeServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:
        pass

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        owner = self.server_owner
        path = unquote(urlsplit(self.path).path).lstrip("/")
        with owner._lock:
            owner.requests.append((self.command, path, self.headers.get("Range")))
        if path in owner.hang:
            owner._stop.wait(600)
            return
        file = (owner.folder / path).resolve()
        if owner.folder.resolve() not in file.parents or not file.is_file():
            self._status(404)
            return
        data_source = owner.corrupt.get(path)
        size = len(data_source) if data_source is not None else file.stat().st_size
        start = 0
        match = _RANGE.match(self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
        self.send_response(206 if match else 200)
        if match:
            self.send_header("Content-Range", f"bytes {start}-{size - 1}/{size}")
        self.send_header("Content-Length", str(size - start))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if not body:
            return
        limit = owner.cut_after.pop(path, None) if self.command == "GET" else None
        self._send_body(file, data_source, start, size, limit)

    def _send_body(self, file: Path, data: bytes | None, start: int, size: int, limit: int | None) -> None:
        owner, sent = self.server_owner, 0
        with open(file, "rb") as handle:
            handle.seek(start)
            position = start
            while position < size:
                block = data[position:position + BLOCK] if data is not None else handle.read(BLOCK)
                if limit is not None and sent + len(block) > limit:
                    self.wfile.write(block[:limit - sent])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(2)  # the transfer cut mid-file
                    return
                try:
                    self.wfile.write(block)
                except (BrokenPipeError, ConnectionResetError):
                    return
                sent += len(block)
                position += len(block)
                with owner._lock:
                    owner.bytes_sent += len(block)
                if owner.rate:
                    time.sleep(len(block) / owner.rate)

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":  # python tests/rangeserver.py FOLDER PORTFILE [RATE]
    with RangeServer(Path(sys.argv[1]), int(sys.argv[3]) if len(sys.argv) > 3 else None) as server:
        Path(sys.argv[2]).write_text(server.url)
        threading.Event().wait()
