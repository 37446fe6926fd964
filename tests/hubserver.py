"""A local stand-in for the Hugging Face Hub HTTP API, for dataset repositories, for tests.

The real `huggingface_hub` client (2.4) talks to it when given `HfApi(endpoint=server.url)`, or
HF_ENDPOINT=server.url in a child process. Routes were taken from that client's source, and each one answers
the way the client expects:

    GET  /api/datasets/<repo>[/revision/<rev>]        HfApi.dataset_info (and repo_info)
    GET  /api/datasets/<repo>/tree/<rev>[/<path>]     HfApi.list_repo_files / list_repo_tree
    POST /api/datasets/<repo>/preupload/<rev>         step 1 of HfApi.create_commit
    POST /api/datasets/<repo>/commit/<rev>            step 2 of HfApi.create_commit (ndjson body)
    HEAD, GET /datasets/<repo>/resolve/<rev>/<path>   hf_hub_download
    POST /api/repos/create                            HfApi.create_repo (datasets; 409 when it exists)

Every commit's tree is kept, so a commit sha is a revision like "main". A commit whose parentCommit is
not the head gets 412, which is how the Hub refuses it; the check and the commit happen under one lock,
so racing clients see exactly one winner. Every file is stored as a regular git blob (never LFS or Xet).
Unlike the Hub, a new repository starts with no files (no .gitattributes) unless the repos argument is a
mapping of repository -> {path: bytes}. Writes (preupload, commit) need an Authorization header, as on the Hub.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, unquote, urlsplit

PRECONDITION_FAILED = "A commit has happened since. Please refresh and try again."  # the Hub's wording
_API = re.compile(r"^/api/datasets/([^/]+/[^/]+)(?:/(revision|tree|preupload|commit)/([^/]+)(/.*)?)?$")
_RESOLVE = re.compile(r"^/datasets/([^/]+/[^/]+)/resolve/([^/]+)/(.+)$")


def as_the_hub(server: "HubServer", monkeypatch, cache: Path) -> None:
    """Make the running stand-in the Hub of this process (the client's constants, read at its import) and of
    its children (HF_ENDPOINT), online, with a token for writes and a download cache of its own in `cache`.

    The cache matters: hf_hub_download serves a file it holds for (repository, commit) without asking the
    server, so a cache shared with an earlier stand-in would hand back that stand-in's bytes."""
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "ENDPOINT", server.url)  # what HF_ENDPOINT sets when the client is imported
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                        server.url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache / "hub"))
    monkeypatch.setenv("HF_HOME", str(cache))
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_TOKEN", "hf_test")


def git_hash(data: bytes) -> str:
    """The git blob id: the Hub's ETag and tree oid of a regular file, and what the client compares in
    preupload to skip unchanged files (so it must be exactly git's, or no-op detection would differ)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class _HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, commit: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.commit = status, message, code, commit


class HubServer:
    """Serves the dataset repositories named in `repos` on http://127.0.0.1:<free port> while entered."""

    def __init__(self, repos: Iterable[str] | Mapping[str, Mapping[str, bytes]] = ()):
        self._lock = threading.Lock()
        self._serial = itertools.count()
        self._nonce = os.urandom(8).hex()  # no two stand-ins make the same commit sha, as no two Hub commits do
        self._heads: dict[str, str] = {}
        self._trees: dict[str, dict[str, dict[str, bytes]]] = {}  # repo -> commit sha -> {path: bytes}
        self.commits = 0  # commits accepted (the initial commit of each repository not counted)
        self.refused = 0  # commits refused with 412 because their parent was not the head
        self.created: dict[str, str] = {}  # repositories made by create_repo -> their visibility
        self.downloads: list[str] = []  # files whose bytes were served (GET resolve), in order
        for repo in repos:
            self._trees[repo] = {}
            self._commit(repo, dict(repos[repo]) if isinstance(repos, Mapping) else {}, "initial commit")
        self.commits = 0
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    def __enter__(self) -> Self:
        server = self

        class Handler(_Handler):
            hub = server

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        threading.Thread(target=self._httpd.serve_forever, name="hubserver", daemon=True).start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def files(self, repo_id: str) -> dict[str, bytes]:
        """The files at the head of repo_id."""
        with self._lock:
            return dict(self._trees[repo_id][self._heads[repo_id]])

    def head(self, repo_id: str) -> str:
        with self._lock:
            return self._heads[repo_id]

    # -- state, always used under self._lock (except in __init__) --

    def _commit(self, repo: str, tree: dict[str, bytes], message: str) -> str:
        # Unique per commit, even for an identical tree and message, like a git commit with its timestamp.
        parent = self._heads.get(repo, "")
        sha = hashlib.sha1(f"{self._nonce}\0{repo}\0{parent}\0{message}\0{next(self._serial)}".encode()).hexdigest()
        self._trees[repo][sha] = tree
        self._heads[repo] = sha
        self.commits += 1
        return sha

    def _resolve(self, repo: str, revision: str) -> tuple[str, dict[str, bytes]]:
        """(commit sha, tree) of a revision: the branch "main" or a commit sha (or its first 7+ digits)."""
        if repo not in self._trees:
            raise _HttpError(404, "Repository not found", "RepoNotFound")
        if revision == "main":
            return self._heads[repo], self._trees[repo][self._heads[repo]]
        found = [sha for sha in self._trees[repo] if len(revision) >= 7 and sha.startswith(revision.lower())]
        if len(found) != 1:
            raise _HttpError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return found[0], self._trees[repo][found[0]]

    def _info(self, repo: str, revision: str) -> dict:
        sha, tree = self._resolve(repo, revision)
        return {"id": repo, "author": repo.split("/")[0], "sha": sha, "private": False, "gated": False,
                "disabled": False, "tags": [], "siblings": [{"rfilename": path} for path in sorted(tree)]}

    def _tree(self, repo: str, revision: str, folder: str, recursive: bool) -> list[dict]:
        _, tree = self._resolve(repo, revision)
        prefix = folder.strip("/") + "/" if folder.strip("/") else ""
        entries: dict[str, dict] = {}
        for path in sorted(p for p in tree if p.startswith(prefix)):
            parts = path[len(prefix):].split("/")
            # Like the Hub: folders are listed too ("directory", once each); without recursive, only the
            # direct children of the folder.
            folders = [prefix + "/".join(parts[:depth]) for depth in range(1, len(parts))]
            for name in folders if recursive else folders[:1]:
                entries.setdefault(name, {"type": "directory", "path": name, "size": 0,
                                          "oid": hashlib.sha1(name.encode()).hexdigest()})
            if recursive or len(parts) == 1:
                entries[path] = {"type": "file", "path": path, "size": len(tree[path]), "oid": git_hash(tree[path])}
        if prefix and not entries:
            raise _HttpError(404, f"{folder} does not exist on \"{revision}\"", "EntryNotFound")
        return list(entries.values())

    def _preupload(self, repo: str, revision: str, files: list[dict]) -> dict:
        _, tree = self._resolve(repo, revision)
        # "oid" of a file already there lets the client drop an unchanged file from the commit, as the Hub does.
        return {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False,
                           "oid": git_hash(tree[f["path"]]) if f["path"] in tree else None} for f in files]}

    def _apply(self, repo: str, revision: str, lines: list[dict]) -> dict:
        head, tree = self._resolve(repo, revision)
        if revision != "main":
            raise _HttpError(400, f"Cannot commit on {revision}: only on the branch main")
        header = next((line["value"] for line in lines if line.get("key") == "header"), {})
        parent = header.get("parentCommit")
        if parent is not None and not head.startswith(parent.lower()):
            self.refused += 1
            raise _HttpError(412, PRECONDITION_FAILED)
        tree = dict(tree)
        for line in lines:
            key, value = line.get("key"), line.get("value", {})
            if key == "file":
                tree[value["path"]] = base64.b64decode(value["content"])
            elif key == "deletedFile":
                tree.pop(value["path"], None)
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                tree = {path: data for path, data in tree.items() if not path.startswith(folder)}
            elif key != "header":
                raise _HttpError(400, f"{key} operations are not supported by this stand-in")
        sha = self._commit(repo, tree, header.get("summary", ""))
        return {"success": True, "commitOid": sha, "commitUrl": f"{self.url}/datasets/{repo}/commit/{sha}",
                "hookOutput": ""}


class _Handler(BaseHTTPRequestHandler):
    hub: HubServer

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._answer(self._get)

    def do_HEAD(self) -> None:
        self._answer(self._get, body=False)

    def do_POST(self) -> None:
        self._answer(self._post)

    def _answer(self, route, body: bool = True) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        request = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # before the lock: may be slow
        try:
            with self.hub._lock:  # one request at a time sees and changes the state: commits are atomic
                status, headers, payload = route(parts.path, query, request)
                if body and (resolved := _RESOLVE.match(parts.path)):
                    self.hub.downloads.append(unquote(resolved[3]))
        except (_HttpError, KeyError, TypeError, ValueError, AttributeError) as error:
            if not isinstance(error, _HttpError):  # a malformed request: say so rather than drop the connection
                error = _HttpError(400, f"Bad request: {error!r}")
            # The client picks its exception class from X-Error-Code (RepoNotFound, RevisionNotFound,
            # EntryNotFound) and shows X-Error-Message or the JSON "error"; a HEAD has only the headers.
            status, payload = error.status, json.dumps({"error": error.message}).encode()
            headers = {"Content-Type": "application/json", "X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            if error.commit:  # lets the client cache that the file does not exist at this commit
                headers["X-Repo-Commit"] = error.commit
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(payload))}.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _create(self, request: dict) -> tuple[int, dict, bytes]:
        if not self.headers.get("Authorization"):
            raise _HttpError(401, "You must be authenticated to create a repository (send a token)")
        if request.get("type") != "dataset":
            raise _HttpError(400, "the stand-in holds dataset repositories only")
        repo = f"{request['organization']}/{request['name']}"
        if repo in self.hub._trees:
            raise _HttpError(409, "You already created this dataset repo")
        self.hub._trees[repo] = {}
        self.hub._commit(repo, {}, "initial commit")
        self.hub.created[repo] = request.get("visibility", "public")
        return 200, {"Content-Type": "application/json"}, json.dumps({"url": f"{self.hub.url}/datasets/{repo}"}).encode()

    def _get(self, path: str, query: dict, body: bytes) -> tuple[int, dict, bytes]:
        if match := _RESOLVE.match(path):
            repo, revision, filename = match[1], unquote(match[2]), unquote(match[3])
            sha, tree = self.hub._resolve(repo, revision)
            if filename not in tree:
                raise _HttpError(404, "Entry not found", "EntryNotFound", commit=sha)
            data = tree[filename]
            # hf_hub_download needs X-Repo-Commit and an ETag (it names the cached blob after it, so the
            # ETag must change with the content) and uses Content-Length as the expected size.
            return 200, {"X-Repo-Commit": sha, "ETag": f'"{git_hash(data)}"', "Accept-Ranges": "bytes",
                         "Content-Type": "application/octet-stream"}, data
        match = _API.match(path)
        if not match or match[2] in ("preupload", "commit"):
            raise _HttpError(404, "Repository not found", "RepoNotFound")
        repo, kind, revision, rest = match[1], match[2], unquote(match[3] or "main"), unquote(match[4] or "")
        if kind == "tree":
            result = self.hub._tree(repo, revision, rest, query.get("recursive", "false").lower() == "true")
        else:
            if rest:
                raise _HttpError(404, "Not found")
            result = self.hub._info(repo, revision)
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()

    def _post(self, path: str, query: dict, body: bytes) -> tuple[int, dict, bytes]:
        if path == "/api/repos/create":
            return self._create(json.loads(body))
        match = _API.match(path)
        if not match or match[2] not in ("preupload", "commit") or match[4]:
            raise _HttpError(404, "Repository not found", "RepoNotFound")
        repo, kind, revision = match[1], match[2], unquote(match[3])
        self.hub._resolve(repo, revision)  # an unknown repository is a 404 before anything else
        if not self.headers.get("Authorization"):
            raise _HttpError(401, "You must be authenticated to write to a repository (send a token)")
        if kind == "preupload":
            result = self.hub._preupload(repo, revision, json.loads(body)["files"])
        else:
            result = self.hub._apply(repo, revision, [json.loads(line) for line in body.splitlines() if line.strip()])
        return 200, {"Content-Type": "application/json"}, json.dumps(result).encode()
