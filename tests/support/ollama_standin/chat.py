"""/api/chat and /api/generate, checked in the order Ollama checks them
(server/routes.go ChatHandler/GenerateHandler, then the llama-server runner)."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Iterator

from . import golang
from .gojson import (ANY, BOOL, DURATION, IMAGEDATA, INT, RAW, STRING, THINK, map_of,
                     slice_of, struct)
from .models import OPTION_KINDS, StandinModel, split_answer
from .names import parse_name
from .sched import ERR_MAX_QUEUE
from .server import Drop, Error, Pause, Reply, Request, Stream, error_reply, json_reply

if TYPE_CHECKING:
    from . import OllamaStandin

MESSAGE = struct("api.Message", {
    "role": STRING, "content": STRING, "thinking": STRING, "images": slice_of(IMAGEDATA),
    "tool_calls": ANY, "tool_name": STRING, "tool_call_id": STRING,
}, alias=True)
COMMON = {
    "model": STRING, "stream": BOOL, "format": RAW, "keep_alive": DURATION,
    "options": map_of(ANY), "think": THINK, "truncate": BOOL, "shift": BOOL,
    "logprobs": BOOL, "top_logprobs": INT,
}
CHAT_REQUEST = struct("api.ChatRequest", {
    **COMMON, "messages": slice_of(MESSAGE), "tools": ANY, "_debug_render_only": BOOL,
})
GENERATE_REQUEST = struct("api.GenerateRequest", {
    **COMMON, "prompt": STRING, "suffix": STRING, "system": STRING, "template": STRING,
    "context": slice_of(INT), "raw": BOOL, "images": slice_of(IMAGEDATA),
})

NO_MULTIMODAL = "Multimodal data provided, but model does not support multimodal requests."
BAD_IMAGE = "Failed to load image or audio file"


def handle_chat(s: "OllamaStandin", request: Request) -> Reply | Stream:
    return _handle(s, request, chat=True)


def handle_generate(s: "OllamaStandin", request: Request) -> Reply | Stream:
    return _handle(s, request, chat=False)


def _handle(s: "OllamaStandin", request: Request, *, chat: bool) -> Reply | Stream:
    req, failure = s.decode_body(request, CHAT_REQUEST if chat else GENERATE_REQUEST)
    if failure:
        return failure
    if not 0 <= (req.get("top_logprobs") or 0) <= 20:
        return error_reply(400, "top_logprobs must be between 0 and 20")
    raw_model = req.get("model") or ""
    if not raw_model.strip():
        return error_reply(400, "model is required") if chat else error_reply(404, "model '' not found")
    if parse_name(raw_model) is None:
        return error_reply(400, "invalid model name")
    model = s.find(raw_model)
    if model is None:
        return error_reply(404, f"model '{raw_model}' not found")

    messages = req.get("messages") or []
    prompt = req.get("prompt") or ""
    empty = not messages if chat else not prompt
    keep_alive = golang.duration_ns(req.get("keep_alive"))
    if empty and keep_alive == 0:
        s.unload(model)
        return json_reply(200, _final(model, raw_model, chat, "unload", metrics=False))
    if not chat and req.get("raw") and (req.get("template") or req.get("system") or req.get("context")):
        return error_reply(400, "raw mode does not support template, system, or context")

    think = req.get("think")
    if "thinking" in model.capabilities:
        think = True if think is None else think
    elif think not in (None, False):
        return error_reply(400, f"{golang.quote(raw_model)} does not support thinking")
    if "completion" not in model.capabilities:
        verb = "chat" if chat else "generate"
        return error_reply(400, f"{golang.quote(raw_model)} does not support {verb}")

    options, failure = _options(s, model, req.get("options") or {})
    if failure:
        return failure
    s.load(model, keep_alive)
    if empty:
        return json_reply(200, _final(model, raw_model, chat, "load", metrics=False))

    failure = _check_format(req.get("format"))
    if failure:
        return failure
    images = [img for m in messages for img in (m.get("images") or [])] if chat else (req.get("images") or [])
    failure = _check_images(model, images)
    if failure:
        return failure

    injected = s.scheduler.take_failure()
    if injected is not None and injected.kind == "busy":
        return error_reply(503, ERR_MAX_QUEUE)
    events = _scheduled(s, _answer_events(model, raw_model, req, options, chat=chat, think=think, images=len(images)),
                        latency=model.latency, drop_after=injected.after if injected is not None else None)
    if req.get("stream") is False:
        return _collect(events, chat)
    return Stream(events)


def _scheduled(s: "OllamaStandin", events: Iterator[Any], *, latency: float, drop_after: int | None) -> Iterator[Any]:
    """The answer generated in a scheduler slot (after `latency`), cut short for an injected drop."""
    with s.scheduler.slot():
        if latency:
            yield Pause(latency)
        sent = 0
        for event in events:
            if drop_after is not None and sent >= drop_after and not isinstance(event, Pause):
                yield Drop()
                return
            sent += 0 if isinstance(event, Pause) else 1
            yield event


def _options(s: "OllamaStandin", model: StandinModel, requested: dict) -> tuple[dict, Reply | None]:
    """Model parameters overlaid with request options, type-checked like Options.FromMap."""
    merged = {**model.parameters, **requested}
    for key, value in merged.items():
        kind = OPTION_KINDS.get(key)
        if kind is None:
            s.warn(f"invalid option provided option={key}")  # Ollama only logs this
            continue
        if value is None:
            continue
        problem = _option_problem(kind, value)
        if problem:
            return merged, error_reply(500, f'option "{key}" {problem}')
    return merged, None


def _option_problem(kind: str, value: Any) -> str | None:
    # encoding/json hands every number to `any` as float64: 1 and 1.5 both pass
    # as int (truncated) and as float32; strings and booleans do not.
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind in ("int", "*int"):
        return None if number else "must be of type integer"
    if kind == "float32":
        return None if number else "must be of type float32"
    if kind == "*bool":
        return None if isinstance(value, bool) else "must be of type boolean"
    if not isinstance(value, list):
        return "must be of type array"
    if not all(isinstance(item, str) for item in value):
        return "must be of an array of strings"
    return None


def _check_format(fmt: Any) -> Reply | None:
    if fmt is None or fmt == "" or fmt == "json" or isinstance(fmt, dict):
        return None
    raw = json.dumps(fmt, separators=(",", ":"))
    return error_reply(
        500, f'invalid format: {golang.quote(raw)}; expected "json" or a valid JSON Schema object'
    )


def _check_images(model: StandinModel, images: list[str]) -> Reply | None:
    """What llama-server answers (through Ollama) for media it cannot take."""
    if not images:
        return None
    if "vision" not in model.capabilities:
        return _llama_server_error(NO_MULTIMODAL)
    for image in images:
        data, _ = golang.b64decode(image)
        if not data or not _is_image(data):
            return _llama_server_error(BAD_IMAGE)
    return None


def _is_image(data: bytes) -> bool:
    return (
        data[:3] == b"\xff\xd8\xff"
        or data[:8] == b"\x89PNG\r\n\x1a\n"
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
    )


def _llama_server_error(message: str) -> Reply:
    body = {"error": {"code": 400, "message": message, "type": "invalid_request_error"}}
    return error_reply(400, json.dumps(body, separators=(",", ":")))


def _answer_events(model: StandinModel, raw_model: str, req: dict, options: dict, *,
                   chat: bool, think: Any, images: int) -> Iterator[Any]:
    started = time.monotonic_ns()
    text = model.answer_text(req)
    chunks = list(model.chunks) if model.chunks is not None else split_answer(text)
    done_reason = "stop"
    for stop in options.get("stop") or []:
        joined = "".join(chunks)
        if stop and stop in joined:
            chunks = split_answer(joined[: joined.index(stop)])
    limit = options.get("num_predict")
    if isinstance(limit, (int, float)) and limit > 0 and len(chunks) > int(limit):
        chunks, done_reason = chunks[: int(limit)], "length"

    thoughts = split_answer(model.thinking_text) if think not in (None, False) and "thinking" in model.capabilities else []
    for piece in thoughts:
        if model.delay:
            yield Pause(model.delay)
        yield _chunk(model, raw_model, chat, content="", thinking=piece)
    for sent, piece in enumerate(chunks):
        if model.error_after is not None and sent >= model.error_after:
            yield Error(model.error)
            return
        if model.delay:
            yield Pause(model.delay)
        yield _chunk(model, raw_model, chat, content=piece)
    if model.error_after is not None and model.error_after <= len(chunks):
        yield Error(model.error)
        return
    prompt_tokens = _prompt_tokens(req, chat, images)
    final = _final(model, raw_model, chat, done_reason, metrics=True)
    final.update(_metrics(model, prompt_tokens, len(chunks), time.monotonic_ns() - started))
    yield final


def _chunk(model: StandinModel, raw_model: str, chat: bool, *, content: str, thinking: str = "") -> dict:
    out: dict[str, Any] = {"model": raw_model, "created_at": golang.rfc3339nano(time.time_ns())}
    if chat:
        message = {"role": "assistant", "content": content}
        if thinking:
            message["thinking"] = thinking
        out["message"] = message
    else:
        out["response"] = content
        if thinking:
            out["thinking"] = thinking
    out["done"] = False
    return out


def _final(model: StandinModel, raw_model: str, chat: bool, reason: str, *, metrics: bool) -> dict:
    out = _chunk(model, raw_model, chat, content="")
    out["done"] = True
    out["done_reason"] = reason
    if not chat and metrics:
        out["context"] = [1, 2, 3]
    return out


def _prompt_tokens(req: dict, chat: bool, images: int) -> int:
    texts = [m.get("content") or "" for m in req.get("messages") or []] if chat else [req.get("prompt") or ""]
    return sum(len(t.split()) + 4 for t in texts) + 64 * images


def _metrics(model: StandinModel, prompt_tokens: int, eval_tokens: int, elapsed_ns: int) -> dict:
    values: dict[str, int | None] = {
        "total_duration": elapsed_ns + 30_000_000 + prompt_tokens * 1_000_000 + eval_tokens * 20_000_000,
        "load_duration": 30_000_000,
        "prompt_eval_count": prompt_tokens,
        "prompt_eval_duration": prompt_tokens * 1_000_000,
        "eval_count": eval_tokens,
        "eval_duration": eval_tokens * 20_000_000,
    }
    values.update(model.metrics)
    # encoding/json omitempty: zero (and removed) fields are left out.
    return {k: v for k, v in values.items() if v}


def _collect(events: Iterator[Any], chat: bool) -> Reply | Drop:
    """stream:false — one JSON object with the whole answer (writeChatResponse)."""
    try:
        return _collect_all(events, chat)
    finally:
        events.close()  # releases the scheduler slot at once


def _collect_all(events: Iterator[Any], chat: bool) -> Reply | Drop:
    content, thinking, last = [], [], None
    for event in events:
        if isinstance(event, Pause):
            time.sleep(event.seconds)
            continue
        if isinstance(event, Drop):
            return Drop()
        if isinstance(event, Error):
            return error_reply(event.status, event.message)
        if chat:
            content.append(event["message"]["content"])
            thinking.append(event["message"].get("thinking", ""))
        else:
            content.append(event["response"])
            thinking.append(event.get("thinking", ""))
        last = event
    assert last is not None
    if chat:
        last["message"]["content"] = "".join(content)
        if any(thinking):
            last["message"]["thinking"] = "".join(thinking)
    else:
        last["response"] = "".join(content)
        if any(thinking):
            last["thinking"] = "".join(thinking)
    return json_reply(200, last)
