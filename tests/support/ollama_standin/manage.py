"""Model management routes: version, show, tags, ps, delete, blobs, pull
(server/routes.go, server/images.go PullModel). /api/create is in create.py."""

from __future__ import annotations

import hashlib
import re
import time
from typing import TYPE_CHECKING, Any, Iterator

from . import golang
from .gojson import ANY, BOOL, STRING, map_of, struct
from .models import Layer
from .names import parse_name
from .server import Error, Reply, Request, Stream, error_reply, json_reply, stream_or_wait, text_reply

if TYPE_CHECKING:
    from . import OllamaStandin

SHOW_REQUEST = struct("api.ShowRequest", {
    "model": STRING, "system": STRING, "template": STRING, "verbose": BOOL,
    "options": map_of(ANY), "name": STRING,
})
DELETE_REQUEST = struct("api.DeleteRequest", {"model": STRING, "name": STRING})
PULL_REQUEST = struct("api.PullRequest", {
    "model": STRING, "insecure": BOOL, "username": STRING, "password": STRING,
    "stream": BOOL, "name": STRING,
})
DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")


def handle_root(s: "OllamaStandin", request: Request) -> Reply:
    return text_reply(200, "Ollama is running")


def handle_version(s: "OllamaStandin", request: Request) -> Reply:
    return json_reply(200, {"version": s.version})


def handle_tags(s: "OllamaStandin", request: Request) -> Reply:
    models = []
    for m in s.all_models():
        models.append({
            "name": m.name, "model": m.name, "modified_at": golang.rfc3339nano(m.modified_ns),
            "size": m.size, "digest": m.digest, "details": m.details,
            "capabilities": m.capabilities,
        })
    return json_reply(200, {"models": models})


def handle_ps(s: "OllamaStandin", request: Request) -> Reply:
    now = time.time_ns()
    models = []
    for m in s.all_models():
        if m.loaded_until_ns is None or m.loaded_until_ns < now:
            continue
        models.append({
            "name": m.name, "model": m.name, "size": m.size, "digest": m.digest,
            "details": m.details, "expires_at": golang.rfc3339nano(m.loaded_until_ns),
            "size_vram": 0, "context_length": m.context_length,
        })
    models.sort(key=lambda item: item["expires_at"], reverse=True)
    return json_reply(200, {"models": models})


def handle_show(s: "OllamaStandin", request: Request) -> Reply:
    req, failure = s.decode_body(request, SHOW_REQUEST)
    if failure:
        return failure
    raw = req.get("model") or req.get("name") or ""
    if not raw:
        return error_reply(400, "model is required")
    name = parse_name(raw)
    if name is None:
        return error_reply(400, "invalid model name")
    model = s.find(raw)
    if model is None:
        # ShowHandler has replaced req.Model by the display name by then.
        return error_reply(404, f"model '{name.shortest()}' not found")
    out: dict[str, Any] = {}
    if model.license:
        out["license"] = "\n".join(model.license)
    out["modelfile"] = model.modelfile()
    if model.parameters:
        out["parameters"] = model.parameters_text()
    if model.template:
        out["template"] = model.template
    system = req.get("system") or model.system
    if system:
        out["system"] = system
    out["details"] = model.details
    if model.messages:
        out["messages"] = model.messages
    out["model_info"] = _visible_info(model.model_info, req.get("verbose"))
    if model.projector_info is not None:
        out["projector_info"] = _visible_info(model.projector_info, req.get("verbose"))
    out["capabilities"] = model.capabilities
    out["modified_at"] = golang.rfc3339nano(model.modified_ns)
    return json_reply(200, out)


def _visible_info(info: dict, verbose: bool | None) -> dict:
    # Without verbose, Ollama decodes GGUF arrays with a size cap of 0: they come back empty.
    hidden = {"general.name", "tokenizer.chat_template"}
    return {k: (v if verbose or not isinstance(v, list) else None) for k, v in info.items() if k not in hidden}


def handle_delete(s: "OllamaStandin", request: Request) -> Reply:
    req, failure = s.decode_body(request, DELETE_REQUEST)
    if failure:
        return failure
    raw = req.get("model") or req.get("name") or ""
    if not raw.strip():
        return error_reply(400, "model is required")
    if parse_name(raw) is None:
        return error_reply(400, f"name {golang.quote(raw)} is invalid")
    if not s.remove_model(raw):
        return error_reply(404, f"model '{raw}' not found")
    return Reply(200, b"", None)


def handle_blob(s: "OllamaStandin", request: Request) -> Reply:
    digest = request.path[len("/api/blobs/"):]
    if not DIGEST.fullmatch(digest):
        return error_reply(400, "invalid digest format")
    if request.method == "HEAD":
        if s.has_blob(digest):
            return Reply(200, b"", None)
        return error_reply(404, f"blob {golang.quote(digest)} not found")
    if s.has_blob(digest):
        return Reply(200, b"", None)  # the body is left unread, as Ollama does
    got = s.store_blob_stream(request.iter_body())
    if got != digest:
        # Ollama has already kept the bytes under their real digest.
        return error_reply(400, f"digest mismatch, expected {golang.quote(digest)}, got {golang.quote(got)}")
    return Reply(201, b"", None)


# ---------------------------------------------------------------- pull


def handle_pull(s: "OllamaStandin", request: Request) -> Reply | Stream:
    req, failure = s.decode_body(request, PULL_REQUEST)
    if failure:
        return failure
    raw = (req.get("model") or req.get("name") or "").strip()
    name = parse_name(raw) if raw else None
    if name is None:
        return error_reply(400, "invalid model name")
    return stream_or_wait(_pull_events(s, name.shortest()), req.get("stream"))


def _pull_events(s: "OllamaStandin", name: str) -> Iterator[Any]:
    return with_injected_error(s.take_injected("pull"), pull_steps(s, name))


def with_injected_error(injected: tuple[int, str] | None, events: Iterator[Any]) -> Iterator[Any]:
    """Pass `events` on, replacing the one after `injected[0]` lines by an error."""
    for sent, event in enumerate(events):
        if injected is not None and sent == injected[0]:
            yield Error(injected[1])
            return
        yield event
        if isinstance(event, Error):
            return


def pull_steps(s: "OllamaStandin", name: str) -> Iterator[Any]:
    yield {"status": "pulling manifest"}
    spec = s.library_entry(name)
    if spec is None:
        yield Error("pull model manifest: file does not exist")
        return
    layers: list[Layer] = []
    for media_type, size, seed in spec["layers"]:
        digest = "sha256:" + hashlib.sha256(f"{name}/{seed}".encode()).hexdigest()
        layers.append(Layer(media_type, digest, size, name))
        status = f"pulling {digest[7:19]}"
        if s.has_blob(digest):
            yield {"status": status, "digest": digest, "total": size, "completed": size}
            continue
        yield {"status": status, "digest": digest, "total": size}  # completed 0 is omitted
        for part in (1, 2):
            yield {"status": status, "digest": digest, "total": size, "completed": size * part // 2}
        s.add_virtual_blob(digest, size)
    yield {"status": "verifying sha256 digest"}
    yield {"status": "writing manifest"}
    kwargs = dict(spec["model"])
    s.add_model(name, layers=layers, **kwargs)
    yield {"status": "success"}
