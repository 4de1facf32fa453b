"""/api/create as server/create.go does it (JSON only, since v0.5.5): validate
`files`, parse each uploaded GGUF (sorted by path), classify model vs
projector, rewrite the model layer (v0.30+ "llama-quantize COPY"), add
template/system/license/params layers, report every layer, register the model."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterator

from . import golang, gguf, gojson
from .gojson import ANY, BOOL, STRING, map_of, slice_of, struct
from .manage import pull_steps, with_injected_error
from .models import (FILE_TYPES, OPTION_KINDS, Layer, StandinModel, details_for, human_number,
                     template_capabilities)
from .names import parse_name, valid_path
from .server import Error, Reply, Request, Stream, error_reply, stream_or_wait

if TYPE_CHECKING:
    from . import OllamaStandin

CREATE_REQUEST = struct("api.CreateRequest", {
    "model": STRING, "stream": BOOL, "quantize": STRING, "draft_quantize": STRING,
    "from": STRING, "remote_host": STRING, "files": map_of(STRING),
    "draft_files": map_of(STRING), "adapters": map_of(STRING), "template": STRING,
    "license": ANY, "system": STRING, "parameters": map_of(ANY),
    "messages": slice_of(ANY), "renderer": STRING, "parser": STRING, "requires": STRING,
    "info": map_of(ANY), "name": STRING, "quantization": STRING,
})
DIGEST = re.compile(r"sha256[:-][0-9a-fA-F]{64}")
TEMPLATE, SYSTEM, LICENSE, PARAMS = (
    f"application/vnd.ollama.image.{k}" for k in ("template", "system", "license", "params"))
WEIGHTS = (gguf.MODEL, gguf.PROJECTOR, gguf.ADAPTER)


def handle_create(s: "OllamaStandin", request: Request) -> Reply | Stream:
    req, failure = s.decode_body(request, CREATE_REQUEST)
    if failure:
        return failure
    for key in ("files", "draft_files"):
        for path, digest in (req.get(key) or {}).items():
            if not valid_path(path):
                return error_reply(400, "file path must be relative")
            if not digest:
                return error_reply(400, "invalid digest format")
    if req.get("draft_quantize") and not req.get("draft_files"):
        return error_reply(400, "--draft-quantize requires a DRAFT model")
    for digest in (req.get("adapters") or {}).values():
        if not digest:
            return error_reply(400, "invalid digest format")
    name = parse_name(req.get("model") or req.get("name") or "")
    if name is None:
        return error_reply(400, "invalid model name")
    events = _create_events(s, req, name.shortest())
    return stream_or_wait(events, req.get("stream"))


def _create_events(s: "OllamaStandin", req: dict, name: str) -> Iterator[Any]:
    return with_injected_error(s.take_injected("create"), _create_steps(s, req, name))


def _create_steps(s: "OllamaStandin", req: dict, name: str) -> Iterator[Any]:
    base: StandinModel | None = None
    kvs: dict[str, gguf.KV] = {}  # header of each uploaded GGUF, by digest
    if req.get("from"):
        source = req["from"]
        parsed = parse_name(source)
        if parsed is None:
            yield Error("invalid model name", 400)
            return
        base = s.find(source)
        if base is None:  # parseFromModel pulls what is not local
            for event in pull_steps(s, parsed.shortest()):
                yield event
                if isinstance(event, Error):
                    return
            base = s.find(source)
        layers = [Layer(l.media_type, l.digest, l.size, source, f"using existing layer {l.digest}")
                  for l in base.layers if l.media_type in WEIGHTS]
    elif req.get("files") is not None:
        found: list = []
        yield from _gguf_layers(s, req["files"], found)
        if not found:
            return
        layers, kvs = found
    else:
        yield Error("neither 'from' or 'files' was specified", 400)
        return

    final: list[Layer] = []
    for layer in layers:
        kv = kvs.get(layer.digest)
        if kv is not None and layer.media_type == gguf.MODEL:
            # v0.30+: every uploaded model GGUF is rewritten by `llama-quantize COPY`,
            # so the manifest's model layer gets a new digest.
            yield {"status": "validating GGUF model", "digest": "0000000000000000000",
                   "total": layer.size, "completed": layer.size}
            yield {"status": "verifying conversion"}
            layer = s.derived_layer(layer, b"llama-quantize COPY")
        elif kv is not None and layer.media_type == gguf.PROJECTOR and _needs_projector_type(kv):
            yield {"status": "updating GGUF projector metadata"}
            layer = s.derived_layer(layer, b"clip.projector_type=mlp")
        final.append(layer)

    template = req.get("template") or (base.template if base else "")
    if req.get("template") and req["template"].count("{{") != req["template"].count("}}"):
        yield Error("template error: template: :1: unclosed action", 400)
        return
    system = req.get("system") or (base.system if base else "")
    licenses = list(base.license) if base else []
    license_value = req.get("license")
    if isinstance(license_value, str):
        licenses += [license_value] if license_value else []
    elif isinstance(license_value, list) and all(isinstance(v, str) for v in license_value):
        licenses += license_value
    elif license_value is not None:
        kind = gojson.json_kind(license_value)
        yield Error(f"json: cannot unmarshal {kind} into Go value of type []string")
        return
    parameters = dict(base.parameters) if base else {}
    for key, value in (req.get("parameters") or {}).items():
        if key not in OPTION_KINDS:
            # The server stores any key; the runner later ignores it with a log line.
            s.warn(f"invalid option provided option={key} (stored by /api/create)")
        parameters[key] = value

    extra = [(TEMPLATE, template.encode())] if template else []
    extra += [(SYSTEM, system.encode())] if system else []
    extra += [(LICENSE, text.encode()) for text in licenses]
    extra += [(PARAMS, golang.marshal(parameters) + b"\n")] if parameters else []
    final += [s.content_layer(media_type, data) for media_type, data in extra]
    for layer in final:
        yield {"status": layer.status}
    yield {"status": "writing manifest"}
    s.put_model(created_model(name, final, kvs, base=base, template=template, system=system,
                              licenses=licenses, parameters=parameters))
    yield {"status": "success"}


def _gguf_layers(s: "OllamaStandin", files: dict[str, str], result: list) -> Iterator[Any]:
    """convertModelFromFiles for GGUF: one "parsing GGUF" per file, sorted by path."""
    kind = _detect_type(s, files)
    if kind == "safetensors":
        yield Error("the stand-in does not convert safetensors", 400)
        return
    if kind != "gguf":
        yield Error("unknown type", 400)
        return
    layers: list[Layer] = []
    kvs: dict[str, gguf.KV] = {}
    for path in sorted(files):
        digest = files[path]
        yield {"status": "parsing GGUF"}
        if not DIGEST.fullmatch(digest):
            yield Error("invalid digest format")
            return
        blob = s.blob_path(digest)
        if blob is None:
            yield Error(f"open {s.blobs_dir}/{digest.replace(':', '-')}: no such file or directory")
            return
        with open(blob, "rb") as handle:
            if not gguf.is_gguf(handle.read(4)):
                yield Error("supplied file was not in GGUF format", 400)
                return
            handle.seek(0)
            try:
                kv = gguf.read_kv(handle)
            except gguf.GGUFError as err:
                yield Error(str(err))
                return
        layers.append(Layer(gguf.media_type(kv), digest, blob.stat().st_size, path,
                            f"using existing layer {digest}"))
        kvs[digest] = kv
    result.extend([layers, kvs])


def _detect_type(s: "OllamaStandin", files: dict[str, str]) -> str:
    for path, digest in files.items():
        if path.endswith(".safetensors"):
            return "safetensors"
        if path.endswith(".gguf"):
            return "gguf"
        blob = s.blob_path(digest) if DIGEST.fullmatch(digest or "") else None
        if blob is None:
            return ""
        with open(blob, "rb") as handle:
            if gguf.is_gguf(handle.read(4)):
                return "gguf"
    return ""


def _needs_projector_type(kv: gguf.KV) -> bool:
    return (kv.architecture == "clip" and kv.bool("has_vision_encoder")
            and "clip.projector_type" not in kv and "clip.vision.projector_type" not in kv)


def model_facts(kv: gguf.KV) -> dict[str, Any]:
    """details / capabilities facts Ollama derives from the model GGUF."""
    count_type, count = kv.get("general.parameter_count", (None, 0))
    file_type = kv.uint("general.file_type") if "general.file_type" in kv else 0
    return {
        "family": kv.architecture,
        "parameter_size": human_number(count if count_type == gguf.UINT64 else 0),
        "quantization_level": FILE_TYPES.get(file_type, "unknown") if file_type else "unknown",
        "vision_inline": kv.uint("vision.block_count") > 0,
        "info": kv.plain(),
    }


def created_model(name: str, layers: list[Layer], kvs: dict[str, gguf.KV], *,
                  base: StandinModel | None, template: str, system: str,
                  licenses: list[str], parameters: dict) -> StandinModel:
    """The model a create registers; capabilities as Model.Capabilities() derives them."""
    model_layer = next((l for l in layers if l.media_type == gguf.MODEL), None)
    projector = next((l for l in layers if l.media_type == gguf.PROJECTOR), None)
    model_kv = kvs.get(model_layer.origin or model_layer.digest) if model_layer else None
    projector_kv = kvs.get(projector.origin or projector.digest) if projector else None
    caps = ["completion"] + template_capabilities(template)
    if model_kv is not None:
        facts = model_facts(model_kv)
        details = details_for(facts["family"], facts["parameter_size"], facts["quantization_level"])
        info = facts["info"]
        if facts["vision_inline"]:
            caps.append("vision")
    elif base is not None:
        details, info = dict(base.details), dict(base.model_info)
        inherited = [c for c in base.capabilities if c in ("completion", "vision", "embedding")]
        caps = list(dict.fromkeys(inherited + template_capabilities(template)))
    else:
        details, info = details_for("unknown", "", "unknown"), {}
    if projector is not None and "vision" not in caps:
        caps.append("vision")  # projectorCapabilities
    if projector_kv is not None:
        projector_info = projector_kv.plain()
    else:
        projector_info = base.projector_info if base is not None and projector else None
    model = StandinModel(
        name=name, capabilities=caps, template=template, system=system, license=licenses,
        parameters=parameters, details=details, model_info=info,
        projector_info=projector_info, layers=layers,
    )
    if base is not None:
        model.answer = base.answer
    return model
