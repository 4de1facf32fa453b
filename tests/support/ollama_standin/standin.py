"""The stand-in's state and test API (documented in the package docstring)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from . import chat, create, gguf, gojson, manage
from .sched import Scheduler
from .models import CHATML_TEMPLATE, DEFAULT_ANSWER, DEFAULT_STREAM_ERROR, Layer, StandinModel, details_for
from .names import parse_name
from .server import RecordedRequest, Reply, Request, StandinHTTPServer, error_reply, text_reply


class OllamaStandin:
    version = "0.32.15"

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._models: dict[str, StandinModel] = {}
        self.library: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.warnings: list[str] = []
        self.fail_on_warnings = True
        self.blobs_dir = tempfile.mkdtemp(prefix="ollama-standin-blobs-")
        self._blobs: dict[str, int] = {}  # "sha256-<hex>" (the file name) -> size
        self._injected: dict[str, tuple[int, str]] = {}
        self.scheduler = Scheduler()  # num_parallel, peak_running, injected chat failures (sched.py)
        self._server = StandinHTTPServer(self._route, self._record)
        self.host = f"127.0.0.1:{self._server.server_address[1]}"
        self.url = f"http://{self.host}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        self._stopped = False

    # ------------------------------------------------------------ test API

    def add_model(
        self,
        name: str,
        capabilities: Iterable[str] = ("completion", "vision"),
        answer: str | Callable[[dict], str] = DEFAULT_ANSWER,
        *,
        chunks: list[str] | None = None,
        error_after: int | None = None,
        error: str = DEFAULT_STREAM_ERROR,
        delay: float = 0.0,
        latency: float = 0.0,
        thinking: bool = False,
        thinking_text: str = "Let me look at the picture.",
        template: str = CHATML_TEMPLATE,
        system: str = "",
        parameters: dict[str, Any] | None = None,
        license: Iterable[str] = (),
        family: str = "qwen2",
        parameter_size: str = "7.6B",
        quantization_level: str = "Q4_0",
        model_info: dict[str, Any] | None = None,
        projector_info: dict[str, Any] | None = None,
        metrics: dict[str, int | None] | None = None,
        loaded: bool = False,
        layers: list[Layer] | None = None,
    ) -> StandinModel:
        parsed = parse_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name {name!r}")
        caps = list(dict.fromkeys(list(capabilities) + (["thinking"] if thinking else [])))
        vision = "vision" in caps
        if layers is None:
            layers = [self._virtual_layer(name, gguf.MODEL, 4_400_000_000)]
            if vision:
                layers.append(self._virtual_layer(name, gguf.PROJECTOR, 1_000_000_000))
        info = model_info if model_info is not None else {
            "general.architecture": family,
            f"{family}.context_length": 32768,
            "general.parameter_count": 7_615_616_512,
        }
        if projector_info is None and vision:
            projector_info = {"general.architecture": "clip", "clip.has_vision_encoder": True,
                              "clip.projector_type": "resampler"}
        model = StandinModel(
            name=parsed.shortest(), capabilities=caps, answer=answer, chunks=chunks,
            error_after=error_after, error=error, delay=delay, latency=latency, thinking_text=thinking_text,
            template=template, system=system, license=list(license),
            parameters=dict(parameters or {}),
            details=details_for(family, parameter_size, quantization_level),
            model_info=info, projector_info=projector_info if vision else None,
            metrics=dict(metrics or {}), layers=layers,
        )
        if loaded:
            model.loaded_until_ns = time.time_ns() + 300_000_000_000
        self.put_model(model)
        return model

    def add_library_model(self, name: str, layers: Iterable[tuple[str, int]] | None = None,
                          **model_kwargs: Any) -> None:
        """Make `name` pullable; pulling registers it with `model_kwargs`."""
        parsed = parse_name(name)
        if parsed is None:
            raise ValueError(f"invalid model name {name!r}")
        vision = "vision" in model_kwargs.get("capabilities", ("completion", "vision"))
        if layers is None:
            layers = [(gguf.MODEL, 4_400_000_000)] + ([(gguf.PROJECTOR, 1_000_000_000)] if vision else [])
        specs = [(media_type, size, i) for i, (media_type, size) in enumerate(layers)]
        specs.append(("application/vnd.ollama.image.template", 300, len(specs)))
        self.library[parsed.shortest()] = {"layers": specs, "model": model_kwargs}

    def find(self, name: str) -> StandinModel | None:
        parsed = parse_name(name)
        with self._lock:
            return self._models.get(parsed.key) if parsed else None

    @property
    def internal_errors(self) -> list[str]:
        """Bugs in the stand-in itself (exceptions in its handlers); the fixture fails on any."""
        return self._server.internal_errors

    @property
    def models(self) -> list[StandinModel]:
        return self.all_models()

    def remove_model(self, name: str) -> bool:
        parsed = parse_name(name)
        with self._lock:
            model = self._models.pop(parsed.key, None) if parsed else None
            if model is None:
                return False
            self._drop_unused(model.layers)
            return True

    def requests_to(self, path: str, method: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.path == path and method in (None, r.method)]

    @property
    def blobs(self) -> dict[str, int]:
        with self._lock:
            return {key.replace("-", ":", 1): size for key, size in self._blobs.items()}

    def blob_bytes(self, digest: str) -> bytes:
        path = self.blob_path(digest)
        if path is None:
            raise KeyError(digest)
        return path.read_bytes()

    def add_blob(self, data: bytes) -> str:
        return self.store_blob_stream([data])

    @property
    def bytes_received(self) -> int:
        with self._lock:
            return sum(r.body_size for r in self.requests
                       if r.method == "POST" and r.path.startswith("/api/blobs/"))

    def inject_create_error(self, message: str, after: int = 1) -> None:
        self._injected["create"] = (after, message)

    def inject_pull_error(self, message: str, after: int = 1) -> None:
        self._injected["pull"] = (after, message)

    @property
    def num_parallel(self) -> int | None:
        return self.scheduler.num_parallel

    @num_parallel.setter
    def num_parallel(self, slots: int | None) -> None:
        self.scheduler.num_parallel = slots

    def inject_chat_failure(self, kind: str, count: int = 1, after: int = 0) -> None:
        """The next `count` chat/generate requests: "busy" (503) or "drop" (cut after `after` lines)."""
        self.scheduler.inject(kind, count, after)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.01)
        return predicate()

    def stop(self) -> None:
        """The daemon goes away: nothing listens any more, open connections are cut."""
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(timeout=5)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.blobs_dir, ignore_errors=True)

    # ---------------------------------------------- used by the route modules

    def all_models(self) -> list[StandinModel]:
        with self._lock:
            return list(self._models.values())

    def put_model(self, model: StandinModel) -> None:
        key = parse_name(model.name).key
        with self._lock:
            old = self._models.get(key)
            self._models[key] = model
            if old is not None:
                self._drop_unused(old.layers)

    def warn(self, message: str) -> None:
        with self._lock:
            self.warnings.append(message)

    def take_injected(self, kind: str) -> tuple[int, str] | None:
        return self._injected.pop(kind, None)

    def library_entry(self, name: str) -> dict[str, Any] | None:
        parsed = parse_name(name)
        for key, spec in self.library.items():
            if parsed is not None and parse_name(key).key == parsed.key:
                return spec
        return None

    def load(self, model: StandinModel, keep_alive_ns: int | None) -> None:
        if keep_alive_ns is None:
            keep_alive_ns = 300_000_000_000
        forever = 1 << 62
        model.loaded_until_ns = time.time_ns() + (forever if keep_alive_ns < 0 else keep_alive_ns)

    def unload(self, model: StandinModel) -> None:
        model.loaded_until_ns = None

    def decode_body(self, request: Request, schema: gojson.T) -> tuple[dict | None, Reply | None]:
        body = request.read_body()
        try:
            request.record.json = json.loads(body) if body.strip() else None
        except ValueError:
            request.record.json = None
        try:
            return gojson.decode(body, schema), None
        except EOFError:
            return None, error_reply(400, "missing request body")
        except gojson.JSONError as err:
            return None, error_reply(400, str(err))

    def has_blob(self, digest: str) -> bool:
        with self._lock:
            return digest.replace(":", "-", 1) in self._blobs

    def blob_path(self, digest: str) -> Path | None:
        path = Path(self.blobs_dir, digest.replace(":", "-", 1))
        return path if path.is_file() else None

    def store_blob_stream(self, chunks: Iterable[bytes]) -> str:
        """manifest.NewLayer: hash while writing, then keep it under its real digest."""
        fd, tmp = tempfile.mkstemp(dir=self.blobs_dir, prefix="partial-")
        sha = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in chunks:
                    sha.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
        except BaseException:
            os.unlink(tmp)
            raise
        key = f"sha256-{sha.hexdigest()}"
        os.replace(tmp, Path(self.blobs_dir, key))
        with self._lock:
            self._blobs[key] = size
        return f"sha256:{sha.hexdigest()}"

    def add_virtual_blob(self, digest: str, size: int) -> None:
        """A blob known by digest and size only (pulled layers: no bytes kept)."""
        with self._lock:
            self._blobs[digest.replace(":", "-", 1)] = size

    def derived_layer(self, layer: Layer, salt: bytes) -> Layer:
        """A rewritten copy of an uploaded layer (new digest), as create makes."""
        data = self.blob_bytes(layer.digest) + salt
        existed = self.has_blob("sha256:" + hashlib.sha256(data).hexdigest())
        digest = self.add_blob(data)
        verb = "using existing layer" if existed else "creating new layer"
        return Layer(layer.media_type, digest, len(data), layer.source, f"{verb} {digest}",
                     origin=layer.digest)

    def content_layer(self, media_type: str, data: bytes) -> Layer:
        existed = self.has_blob("sha256:" + hashlib.sha256(data).hexdigest())
        digest = self.add_blob(data)
        verb = "using existing layer" if existed else "creating new layer"
        return Layer(media_type, digest, len(data), "", f"{verb} {digest}")

    # ------------------------------------------------------------ internals

    def _virtual_layer(self, name: str, media_type: str, size: int) -> Layer:
        digest = "sha256:" + hashlib.sha256(f"{name}/{media_type}".encode()).hexdigest()
        self.add_virtual_blob(digest, size)
        return Layer(media_type, digest, size, name)

    def _drop_unused(self, layers: list[Layer]) -> None:
        used = {l.digest for m in self._models.values() for l in m.layers}
        for layer in layers:
            if layer.digest in used:
                continue
            key = layer.digest.replace(":", "-", 1)
            self._blobs.pop(key, None)
            Path(self.blobs_dir, key).unlink(missing_ok=True)

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _route(self, request: Request):
        method, path = request.method, request.path
        if path == "/" and method in ("GET", "HEAD"):
            return manage.handle_root(self, request)
        if path.startswith("/api/blobs/") and method in ("HEAD", "POST"):
            return manage.handle_blob(self, request)
        handler = _ROUTES.get((method, path))
        if handler is None:
            return text_reply(404, "404 page not found")  # gin's NoRoute answer
        return handler(self, request)


_ROUTES = {
    ("GET", "/api/version"): manage.handle_version,
    ("HEAD", "/api/version"): manage.handle_version,
    ("GET", "/api/tags"): manage.handle_tags,
    ("HEAD", "/api/tags"): manage.handle_tags,
    ("GET", "/api/ps"): manage.handle_ps,
    ("POST", "/api/show"): manage.handle_show,
    ("DELETE", "/api/delete"): manage.handle_delete,
    ("POST", "/api/pull"): manage.handle_pull,
    ("POST", "/api/create"): create.handle_create,
    ("POST", "/api/chat"): chat.handle_chat,
    ("POST", "/api/generate"): chat.handle_generate,
}
