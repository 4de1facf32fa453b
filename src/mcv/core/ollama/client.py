"""The one HTTP client for the Ollama daemon (httpx only; no pydantic, no `ollama`).

This is on the `mcv ask` hot path, so it imports httpx and nothing heavier,
and builds no TLS context for a plain-http daemon. Every failure leaves as a
one-line `McvError`:

- nothing listening / connect timeout -> `ServerUnavailable` (+ how to start it)
- 404 for a model                      -> `ModelNotFound` (+ how to get it)
- any other 4xx/5xx                    -> `BackendError` with the server's text
- `{"error": ...}` inside a 200 stream -> `StreamError` (Ollama reports late
  failures that way; every line is checked)

Streaming methods are generators that hold the response open inside a `with`
block: closing the generator (or Ctrl-C unwinding it) closes the connection,
which is how Ollama learns the client went away and stops generating.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Callable, Iterator, Mapping

import httpx

from mcv import __version__
from mcv.errors import (
    BackendError,
    InputError,
    McvError,
    ModelNotFound,
    ServerUnavailable,
    StreamError,
    TransientError,
    UsageError,
)

START_HINT = "start it with `ollama serve` (or set OLLAMA_HOST / --host to where it runs)"
UPLOAD_CHUNK = 1024 * 1024  # bytes read per step while streaming a blob
_DIGEST = re.compile(r"sha256[:-]([0-9a-fA-F]{64})")
_LOOPBACK_HOSTS = {"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}

ProgressFn = Callable[[int, int], None]  # (bytes sent, total bytes)


class OllamaClient:
    """A connection pool to one Ollama daemon at `host` (a base URL)."""

    def __init__(
        self,
        host: str,
        *,
        timeout: float | None = None,
        connect_timeout: float = 2.0,
        headers: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.base_url = host.rstrip("/")
        url = _parse_base_url(self.base_url)
        environ = os.environ if environ is None else environ
        all_headers = {"User-Agent": f"mcv/{__version__}", "Accept": "application/json"}
        api_key = environ.get("OLLAMA_API_KEY")
        if api_key:
            all_headers["Authorization"] = f"Bearer {api_key}"  # as the official client does
        all_headers.update(headers or {})
        host_name = url.host or ""
        loopback = host_name in _LOOPBACK_HOSTS or host_name.startswith("127.")
        self._http = httpx.Client(
            base_url=_connectable(url),
            headers=all_headers,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # For http:// this only skips loading the CA bundle (~25 ms per
            # process): the client talks to this one base URL and follows no
            # redirects, so no certificate is ever checked anyway.
            verify=url.scheme == "https",
            # Like Go's ProxyFromEnvironment: never proxy a local daemon.
            trust_env=not loopback,
            follow_redirects=False,
        )

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        flag: str | None = None,
        config_host: str | None = None,
        **kwargs: Any,
    ) -> "OllamaClient":
        from mcv.core.ollama.host import resolve_host

        return cls(resolve_host(flag, environ, config_host), environ=environ, **kwargs)

    # -- simple requests ---------------------------------------------------

    def version(self) -> str:
        data = self._json("GET", "/api/version")
        return str(data.get("version", ""))

    def is_running(self) -> bool:
        """True when something answers 200 at `/`; False if nothing listens."""
        try:
            return self._http.get("/").status_code == 200
        except httpx.HTTPError:
            return False

    def show(self, model: str) -> dict:
        return self._json("POST", "/api/show", {"model": model}, model=model)

    def capabilities(self, model: str) -> set[str]:
        return capability_names(self.show(model))

    def tags(self) -> list[dict]:
        return list(self._json("GET", "/api/tags").get("models") or [])

    def entry_capabilities(self, entry: Mapping[str, Any]) -> set[str]:
        """The capabilities of an /api/tags entry: listed there since Ollama
        0.30, asked with /api/show from older daemons."""
        listed = entry.get("capabilities")
        if isinstance(listed, list):
            return {str(c) for c in listed}
        return self.capabilities(str(entry.get("name") or entry.get("model") or ""))

    def vision_models(self, *, limit: int = 40) -> list[str]:
        """Installed models that can see, by the names /api/tags lists (at most `limit` looked at)."""
        names = []
        for entry in self.tags()[:limit]:
            try:
                can_see = "vision" in self.entry_capabilities(entry)
            except McvError:  # one broken model does not hide the others
                continue
            if can_see:
                names.append(str(entry.get("name") or entry.get("model") or ""))
        return names

    def ps(self) -> list[dict]:
        return list(self._json("GET", "/api/ps").get("models") or [])

    def delete(self, model: str) -> None:
        resp = self._send("DELETE", "/api/delete", json={"model": model})
        self._check(resp, "/api/delete", model=model)

    # -- streams -----------------------------------------------------------

    def chat(self, payload: dict) -> Iterator[dict]:
        """POST /api/chat; yields each NDJSON object (one if stream=false)."""
        return self._stream("/api/chat", payload, model=payload.get("model"))

    def generate(self, payload: dict) -> Iterator[dict]:
        return self._stream("/api/generate", payload, model=payload.get("model"))

    def create(self, payload: dict) -> Iterator[dict]:
        """POST /api/create; yields the status objects."""
        return self._stream("/api/create", payload)

    def pull(self, model: str) -> Iterator[dict]:
        """POST /api/pull; yields the status objects (digest/total/completed)."""
        try:
            yield from self._stream("/api/pull", {"model": model, "stream": True})
        except StreamError as err:
            if "file does not exist" in err.message:
                raise ModelNotFound(
                    f"model '{model}' is not in the Ollama library",
                    hint="check the name at https://ollama.com/library",
                ) from None
            raise

    # -- blobs -------------------------------------------------------------

    def head_blob(self, digest: str) -> bool:
        digest = normalize_digest(digest)
        resp = self._send("HEAD", f"/api/blobs/{digest}")
        if resp.status_code == 404:
            return False
        self._check(resp, "/api/blobs")
        return True

    def push_blob(
        self, digest: str, path: str | os.PathLike, *, progress: ProgressFn | None = None
    ) -> bool:
        """Upload a file as blob `digest`, streaming it (constant memory).

        True if the daemon created it (201), False if it already had it (200;
        the daemon then answers without reading the body).
        """
        digest = normalize_digest(digest)
        try:
            total = os.path.getsize(path)
            handle = open(path, "rb")
        except OSError as err:
            raise InputError(f"cannot read {os.fspath(path)}: {err.strerror}") from None
        with handle:
            body = _file_chunks(handle, total, progress)
            resp = self._send(
                "POST",
                f"/api/blobs/{digest}",
                content=body,
                headers={"Content-Length": str(total)},
            )
        if resp.status_code == 400 and "digest mismatch" in resp.text:
            raise BackendError(
                f"Ollama rejected blob {digest}: {_error_text(resp)}",
                hint=f"did {os.fspath(path)} change while it was uploaded? run it again",
            )
        self._check(resp, "/api/blobs")
        return resp.status_code == 201

    def ensure_blob(
        self, digest: str, path: str | os.PathLike, *, progress: ProgressFn | None = None
    ) -> bool:
        """Upload only if the daemon lacks the blob; True if bytes were sent."""
        if self.head_blob(digest):
            return False
        return self.push_blob(digest, path, progress=progress)

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "OllamaClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ----------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            raise self._transport_error(err) from None

    def _json(self, method: str, path: str, body: dict | None = None, *, model: str | None = None) -> dict:
        resp = self._send(method, path, json=body) if body is not None else self._send(method, path)
        self._check(resp, path, model=model)
        return _parse_object(resp.content, path)

    def _stream(self, path: str, payload: dict, *, model: str | None = None) -> Iterator[dict]:
        try:
            with self._http.stream("POST", path, json=payload) as resp:
                if resp.status_code >= 400:
                    resp.read()
                    self._check(resp, path, model=model)
                for line in resp.iter_lines():
                    if not line.strip():
                        continue
                    obj = _parse_object(line.encode("utf-8"), path)
                    if "error" in obj:
                        raise StreamError(f"Ollama error: {_one_line(str(obj['error']))}")
                    yield obj
        except httpx.HTTPError as err:
            raise self._transport_error(err) from None

    def _check(self, resp: httpx.Response, path: str, *, model: str | None = None) -> None:
        status = resp.status_code
        if status < 400:
            return
        text = _error_text(resp)
        if status == 404 and model is not None and "not found" in text and _is_json_error(resp):
            raise ModelNotFound(
                f"model '{model}' not found at {self.base_url}",
                hint=f"get it with `mcv model pull {model}` or `ollama pull {model}`",
            )
        if status == 404 and not _is_json_error(resp):
            raise BackendError(
                f"{self.base_url} is not an Ollama API (404 for {path})",
                hint="check OLLAMA_HOST / --host, or update Ollama",
            )
        if status == 503:  # the scheduler's queue is full (OLLAMA_MAX_QUEUE): worth asking again later
            raise TransientError(f"Ollama error {status}: {text}")
        raise BackendError(f"Ollama error {status}: {text}")

    def _transport_error(self, err: httpx.HTTPError) -> BackendError | UsageError:
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)):
            return ServerUnavailable(f"Ollama is not running at {self.base_url} (nothing answers there)", hint=START_HINT)
        if isinstance(err, httpx.TimeoutException):
            return BackendError(f"Ollama at {self.base_url} did not answer in time")
        if isinstance(err, (httpx.UnsupportedProtocol, httpx.InvalidURL)):
            return UsageError(f"invalid Ollama host '{self.base_url}'")
        # RemoteProtocolError, ReadError, ...: the daemon went away mid-reply.
        return TransientError(f"lost the connection to Ollama at {self.base_url}")


def capability_names(info: Mapping[str, Any]) -> set[str]:
    """The capabilities an /api/show answer lists."""
    caps = info.get("capabilities")
    if caps is None:
        # Daemons older than the `capabilities` field: a projector means vision.
        caps = ["completion"] + (["vision"] if info.get("projector_info") else [])
    return {str(c) for c in caps}


def normalize_digest(digest: str) -> str:
    """`sha256:<lowercase hex>`, the only form Ollama's blob API accepts as equal."""
    match = _DIGEST.fullmatch(digest.strip())
    if match is None:
        if re.fullmatch(r"[0-9a-fA-F]{64}", digest.strip()):
            return f"sha256:{digest.strip().lower()}"
        raise InputError(f"invalid blob digest '{digest}' (expected sha256:<64 hex digits>)")
    return f"sha256:{match.group(1).lower()}"


def _parse_base_url(base_url: str) -> httpx.URL:
    try:
        url = httpx.URL(base_url)
    except httpx.InvalidURL:
        raise UsageError(f"invalid Ollama host '{base_url}'") from None
    if url.scheme not in ("http", "https"):
        raise UsageError(
            f"invalid Ollama host '{base_url}': the scheme must be http or https"
        )
    return url


def _connectable(url: httpx.URL) -> httpx.URL:
    # OLLAMA_HOST=":1234" means the local machine (Go dials an empty host as
    # localhost); httpx needs a host name spelled out.
    if not url.host:
        return url.copy_with(host="127.0.0.1")
    return url


def _file_chunks(handle, total: int, progress: ProgressFn | None) -> Iterator[bytes]:
    sent = 0
    if progress:
        progress(0, total)
    while True:
        chunk = handle.read(UPLOAD_CHUNK)
        if not chunk:
            return
        sent += len(chunk)
        yield chunk
        if progress:
            progress(sent, total)


def _parse_object(raw: bytes, path: str) -> dict:
    try:
        obj = json.loads(raw)
    except ValueError:
        snippet = raw[:80].decode("utf-8", "replace")
        raise BackendError(f"Ollama sent invalid JSON for {path}: {snippet!r}") from None
    if not isinstance(obj, dict):
        raise BackendError(f"Ollama sent unexpected JSON for {path}: {type(obj).__name__}")
    return obj


def _is_json_error(resp: httpx.Response) -> bool:
    try:
        return isinstance(json.loads(resp.content), dict)
    except ValueError:
        return False


def _error_text(resp: httpx.Response) -> str:
    """The server's `error` text, else its raw body, on one line."""
    try:
        obj = json.loads(resp.content)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and "error" in obj:
        return _one_line(str(obj["error"]))
    return _one_line(resp.text) or resp.reason_phrase


def _one_line(text: str, limit: int = 500) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
