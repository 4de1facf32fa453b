"""A local Hugging Face Hub stand-in speaking the file download protocol.

What huggingface_hub's `hf_hub_download` does (file_download.py):
  HEAD {endpoint}/{repo}/resolve/{revision}/{filename}
      -> needs X-Repo-Commit and an ETag; for LFS files the Hub answers 302 to
         a CDN with X-Linked-Etag (the sha256) and X-Linked-Size, and the
         client does not follow redirects to another host.
  GET  the location (CDN URL, or the resolve URL for small git files),
      with `Range: bytes=N-` to resume after a dropped connection.

And what `HfApi.list_repo_tree(recursive=True)` (hence `list_repo_files`)
does (hf_api.py `_iter_repo_tree_pages`, utils/_pagination.py):
  GET  {endpoint}/api/models/{repo}/tree/{revision}[/{path}]?recursive=..&expand=..
      -> a JSON array of {"type": "file", "path", "size", "oid", "lfs"?} and
         {"type": "directory", "path", "oid"}; more pages behind a
         `Link: <url>; rel="next"` header. An unknown repo is a 404 with
         X-Error-Code RepoNotFound, an unknown revision RevisionNotFound
         (utils/_http.py hf_raise_for_status turns those into typed errors).

This server does exactly that on 127.0.0.1, with the "CDN" on `localhost`
(another host name for the same socket, so the client treats it as off-Hub).
Faults for tests: drop the connection mid-file once, or serve bytes that do
not match the advertised sha256. Every request is recorded.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    data: bytes
    lfs: bool = True
    sha256: str = ""
    git_etag: str = ""
    drop_after: int | None = None  # first GET sends this many bytes, then hangs up
    corrupt: bool = False  # serve different bytes than the advertised sha256

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()
        self.git_etag = hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    def served_bytes(self) -> bytes:
        if not self.corrupt:
            return self.data
        flipped = bytearray(self.data)
        flipped[len(flipped) // 2] ^= 0xFF
        return bytes(flipped)


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names


@dataclass
class HubServer:
    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    url: str = ""
    cdn_url: str = ""
    redirect_lfs: bool = True
    tree_page_size: int = 1000  # entries per listing page, as the Hub (50 with expand)
    _server: ThreadingHTTPServer | None = None

    def add_file(self, repo: str, filename: str, data: bytes, *, lfs: bool = True) -> HubFile:
        entry = HubFile(data=data, lfs=lfs)
        self.files[(repo, filename)] = entry
        return entry

    def add_path(self, repo: str, filename: str, path: Path) -> HubFile:
        return self.add_file(repo, filename, Path(path).read_bytes())

    def add_repo_files(self, repo: str, files: dict[str, Path | bytes]) -> None:
        """Several files at once: {name in the repo: local file or bytes}."""
        for name, source in files.items():
            data = source if isinstance(source, bytes) else Path(source).read_bytes()
            self.add_file(repo, name, data)

    def listings(self) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and r.path.startswith("/api/models/")]

    def gets(self, filename: str | None = None) -> list[Request]:
        return [r for r in self.requests if r.method == "GET" and (filename is None or r.path.endswith(filename))]

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # -- protocol -------------------------------------------------------

    def tree(self, repo: str, path_in_repo: str, recursive: bool) -> list[dict] | None:
        """The Hub's tree entries under `path_in_repo`; None if there is no such folder."""
        names = sorted(name for (owner, name) in self.files if owner == repo)
        prefix = f"{path_in_repo}/" if path_in_repo else ""
        entries: dict[str, dict] = {}
        for name in names:
            if not name.startswith(prefix):
                continue
            parts = name[len(prefix) :].split("/")
            depth = len(parts) if recursive else 1
            for level in range(1, min(depth, len(parts) - 1) + 1):  # the folders on the way
                folder = prefix + "/".join(parts[:level])
                oid = hashlib.sha1(folder.encode()).hexdigest()
                entries.setdefault(folder, {"type": "directory", "path": folder, "oid": oid})
            if len(parts) == 1 or recursive:
                entry = self.files[(repo, name)]
                item = {"type": "file", "path": name, "size": len(entry.data), "oid": entry.git_etag}
                if entry.lfs:
                    item["lfs"] = {"oid": entry.sha256, "size": len(entry.data), "pointerSize": 134}
                entries[name] = item
        if path_in_repo and not entries:
            return None
        return list(entries.values())

    def find(self, path: str) -> tuple[str, str, HubFile | None, bool]:
        """(repo, filename, file, via_cdn) for a request path."""
        parts = unquote(path.split("?", 1)[0]).lstrip("/").split("/")
        if parts[:1] == ["cdn"] and len(parts) >= 4:
            repo, filename = "/".join(parts[1:3]), "/".join(parts[3:])
            return repo, filename, self.files.get((repo, filename)), True
        if "resolve" in parts:
            at = parts.index("resolve")
            repo = "/".join(parts[:at])
            filename = "/".join(parts[at + 2 :])
            return repo, filename, self.files.get((repo, filename)), False
        return "", "", None, False


def _make_handler(hub: HubServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _record(self) -> None:
            hub.requests.append(Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))

        def _not_found(self) -> None:
            body = b'{"error":"Entry not found"}'
            self.send_response(404)
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("X-Error-Code", "EntryNotFound")
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self._record()
            self._respond(send_body=False)

        def do_GET(self) -> None:
            self._record()
            if self.path.startswith("/api/"):
                self._api()
                return
            self._respond(send_body=True)

        def _json(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _hub_error(self, code: str, message: str) -> None:
            self._json(404, {"error": message}, {"X-Error-Code": code, "X-Error-Message": message})

        def _api(self) -> None:
            """GET /api/models/{owner}/{name}/tree/{revision}[/{path}] and nothing else."""
            url = urlsplit(self.path)
            parts = url.path.split("/")  # "", "api", "models", owner, name, "tree", revision, path...
            if len(parts) < 7 or parts[2] != "models" or parts[5] != "tree":
                self._hub_error("EntryNotFound", "Not Found")
                return
            repo = f"{unquote(parts[3])}/{unquote(parts[4])}"
            revision = unquote(parts[6])
            path_in_repo = unquote("/".join(parts[7:]))
            query = parse_qs(url.query)
            if not any(owner == repo for owner, _ in hub.files):
                self._hub_error("RepoNotFound", "Repository not found")
                return
            if revision not in ("main", COMMIT):
                self._hub_error("RevisionNotFound", "Invalid rev id: " + revision)
                return
            # httpx sends true/false, requests True/False
            recursive = query.get("recursive", ["false"])[0].lower() == "true"
            entries = hub.tree(repo, path_in_repo, recursive)
            if entries is None:
                self._hub_error("EntryNotFound", f"{path_in_repo} does not exist on \"{revision}\"")
                return
            start = int(query.get("cursor", ["0"])[0])
            page = entries[start : start + hub.tree_page_size]
            headers = {}
            if start + hub.tree_page_size < len(entries):
                recursive_arg = query.get("recursive", ["false"])[0]
                link = f"{hub.url}{url.path}?recursive={recursive_arg}&cursor={start + hub.tree_page_size}"
                headers["Link"] = f'<{link}>; rel="next"'
            self._json(200, page, headers)

        def _respond(self, *, send_body: bool) -> None:
            repo, filename, entry, via_cdn = hub.find(self.path)
            if entry is None:
                self._not_found()
                return
            if entry.lfs and hub.redirect_lfs and not via_cdn:
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/cdn/{repo}/{filename}")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("X-Linked-Etag", f'"{entry.sha256}"')
                self.send_header("X-Linked-Size", str(len(entry.data)))
                self.send_header("ETag", f'"{entry.git_etag}"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._send_content(entry, send_body=send_body, via_cdn=via_cdn)

        def _send_content(self, entry: HubFile, *, send_body: bool, via_cdn: bool) -> None:
            body = entry.served_bytes()
            start = 0
            ranged = self.headers.get("Range")
            if ranged and ranged.startswith("bytes="):
                start = int(ranged[len("bytes=") :].split("-", 1)[0] or 0)
            chunk = body[start:]
            self.send_response(206 if start else 200)
            if not via_cdn:
                self.send_header("X-Repo-Commit", COMMIT)
            etag = entry.sha256 if entry.lfs else entry.git_etag
            self.send_header("ETag", f'"{etag}"')
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(chunk)))
            if start:
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            self.end_headers()
            if not send_body:
                return
            if entry.drop_after is not None and start == 0:
                cut = entry.drop_after
                entry.drop_after = None  # only the first attempt fails
                self.wfile.write(chunk[:cut])
                self.wfile.flush()
                self.close_connection = True
                # Hang up without sending the rest: the client sees a short body.
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.wfile.write(chunk)

    return Handler


def start_hub_server() -> HubServer:
    hub = HubServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(hub))
    server.daemon_threads = True
    port = server.server_address[1]
    hub._server = server
    hub.url = f"http://127.0.0.1:{port}"
    hub.cdn_url = f"http://localhost:{port}"
    threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="hf-standin", daemon=True
    ).start()
    return hub


@pytest.fixture
def hf_server():
    """A running local Hub; add files with `.add_file(repo, filename, data)`."""
    hub = start_hub_server()
    yield hub
    hub.stop()


@pytest.fixture
def hf_environ(hf_server, tmp_path, monkeypatch):
    """Environment variables pointing huggingface_hub at the local Hub and a tmp cache."""
    import huggingface_hub.constants as hf_constants

    # The library reads HF_HUB_OFFLINE once at import; these tests need it off.
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    cache = tmp_path / "hf-home"
    return {
        "HF_ENDPOINT": hf_server.url,
        "HF_HOME": str(cache),
        "HF_HUB_CACHE": str(cache / "hub"),
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
