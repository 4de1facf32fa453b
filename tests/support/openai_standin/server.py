"""The OpenAI chat-completions stand-in's server (see __init__ for what it checks and offers)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from ..standin_http import TrackingHTTPServer

ROLES = {"system", "user", "assistant"}
KNOWN_FIELDS = {
    "model", "messages", "stream", "stream_options", "max_tokens", "max_completion_tokens", "temperature",
    "top_p", "seed", "stop", "presence_penalty", "frequency_penalty", "response_format", "n", "user",
    "logprobs", "top_logprobs", "logit_bias", "tools", "tool_choice",
}  # fmt: skip
_SCHEMA_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DATA_URL = re.compile(r"data:(image/[a-z]+);base64,(.*)", re.S)


class Rejected(Exception):
    def __init__(self, status: int, message: str, *, param: str | None = None, kind: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.code = status, message, param, kind, code


@dataclass
class Model:
    id: str
    answer: str | Callable[[dict], str] = "A red square on white."
    usage: bool = True  # report usage when asked (stream_options.include_usage)
    max_model_len: int | None = None  # vLLM lists it in /v1/models


@dataclass
class Failure:
    kind: str  # "429" | "503" | "500" | "drop" | "error_event" | "stall" | "stall_stream"
    after: int = 0  # content chunks sent before a drop / an error event / the silence
    retry_after: str | None = "1"  # the Retry-After header of a 429


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    json: Any = None
    status: int | None = None
    chunks_sent: int = 0
    received_at: float = field(default_factory=time.monotonic)
    answered_at: float | None = None  # when the whole answer was sent
    stalled: bool = False  # got no more bytes (fail "stall"/"stall_stream", freeze)
    finished: threading.Event = field(default_factory=threading.Event)


def error_body(err: Rejected) -> bytes:
    return json.dumps({"error": {"message": err.message, "type": err.kind, "param": err.param, "code": err.code}}).encode()


def check_request(body: Any, models: dict[str, Model]) -> Model:
    """Reject what the OpenAI API rejects (the request shapes mcv may send)."""
    if not isinstance(body, dict):
        raise Rejected(400, "We could not parse the JSON body of your request.")
    unknown = sorted(set(body) - KNOWN_FIELDS)
    if unknown:
        raise Rejected(400, f"Unrecognized request argument supplied: {unknown[0]}", param=unknown[0])
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise Rejected(400, "you must provide a model parameter", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Rejected(400, "'messages' must be a non-empty array", param="messages")
    for n, message in enumerate(messages):
        check_message(message, f"messages[{n}]")
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise Rejected(400, "'stream' must be a boolean", param="stream")
    if "stream_options" in body:
        if not stream:
            raise Rejected(400, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", param="stream_options")
        options = body["stream_options"]
        if not isinstance(options, dict) or set(options) - {"include_usage"}:
            raise Rejected(400, "Invalid 'stream_options'", param="stream_options")
    for name, low, high in (("temperature", 0, 2), ("top_p", 0, 1), ("presence_penalty", -2, 2), ("frequency_penalty", -2, 2)):
        if name in body:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
                raise Rejected(400, f"Invalid '{name}': expected a number from {low} to {high}", param=name)
    for name in ("max_tokens", "seed"):
        if name in body and (isinstance(body[name], bool) or not isinstance(body[name], int) or (name == "max_tokens" and body[name] < 1)):
            raise Rejected(400, f"Invalid '{name}'", param=name)
    if "stop" in body:
        stop = body["stop"]
        if not (isinstance(stop, str) or (isinstance(stop, list) and len(stop) <= 4 and all(isinstance(s, str) for s in stop))):
            raise Rejected(400, "Invalid 'stop': a string or up to 4 strings", param="stop")
    if "response_format" in body:
        check_response_format(body["response_format"])
    if model not in models:
        raise Rejected(404, f"The model `{model}` does not exist or you do not have access to it.", code="model_not_found")
    return models[model]


def check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict) or message.get("role") not in ROLES:
        raise Rejected(400, f"Invalid '{where}.role'", param=f"{where}.role")
    unknown = set(message) - {"role", "content", "name"}
    if unknown:
        raise Rejected(400, f"Unrecognized argument in '{where}': {sorted(unknown)[0]}", param=where)
    content = message.get("content")
    if isinstance(content, str):
        return
    if not isinstance(content, list) or not content:
        raise Rejected(400, f"Invalid '{where}.content': a string or a non-empty array of parts", param=f"{where}.content")
    for k, part in enumerate(content):
        at = f"{where}.content[{k}]"
        if not isinstance(part, dict):
            raise Rejected(400, f"Invalid '{at}'", param=at)
        if part.get("type") == "text" and set(part) == {"type", "text"} and isinstance(part["text"], str):
            continue
        if part.get("type") == "image_url" and set(part) == {"type", "image_url"}:
            if message["role"] != "user":
                raise Rejected(400, f"Invalid '{at}': images are only allowed in user messages", param=at)
            check_image_url(part["image_url"], at)
            continue
        raise Rejected(400, f"Invalid content part '{at}'", param=at)


def check_image_url(image_url: Any, at: str) -> None:
    if not isinstance(image_url, dict) or not isinstance(image_url.get("url"), str) or set(image_url) - {"url", "detail"}:
        raise Rejected(400, f"Invalid '{at}.image_url'", param=at)
    match = _DATA_URL.fullmatch(image_url["url"])
    if match is None:  # mcv always sends data URLs (Ollama's /v1 takes nothing else)
        raise Rejected(400, f"Invalid '{at}.image_url.url': expected a base64 data URL", param=at)
    try:
        data = base64.b64decode(match.group(2), validate=True)
    except (binascii.Error, ValueError):
        raise Rejected(400, f"Invalid '{at}.image_url.url': bad base64", param=at) from None
    mime = match.group(1)
    looks = (mime == "image/jpeg" and data[:3] == b"\xff\xd8\xff") or (mime == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n")
    if not looks:
        raise Rejected(400, f"Invalid image in '{at}': the data is not a {mime}", param=at)


def check_response_format(value: Any) -> None:
    if not isinstance(value, dict) or value.get("type") not in ("text", "json_object", "json_schema"):
        raise Rejected(400, "Invalid 'response_format.type'", param="response_format")
    if value["type"] != "json_schema":
        if set(value) != {"type"}:
            raise Rejected(400, "Invalid 'response_format'", param="response_format")
        return
    schema = value.get("json_schema")
    if set(value) != {"type", "json_schema"} or not isinstance(schema, dict):
        raise Rejected(400, "Missing required parameter: 'response_format.json_schema'", param="response_format.json_schema")
    if not isinstance(schema.get("name"), str) or not _SCHEMA_NAME.fullmatch(schema["name"]):
        raise Rejected(400, "Invalid 'response_format.json_schema.name'", param="response_format.json_schema.name")
    if set(schema) - {"name", "schema", "strict", "description"} or not isinstance(schema.get("schema", {}), dict):
        raise Rejected(400, "Invalid 'response_format.json_schema'", param="response_format.json_schema")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: "StandinServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def _dispatch(self) -> None:
        record = Recorded(self.command, self.path.split("?")[0], {k.lower(): v for k, v in self.headers.items()})
        self.server.standin.record(record)
        try:
            self.server.standin.handle(self, record)
        except (BrokenPipeError, ConnectionError):
            self.close_connection = True
        except Exception as err:  # a bug in the stand-in: make it loud
            self.server.standin.internal_errors.append(f"{self.command} {record.path}: {err!r}")
            self.close_connection = True
        finally:
            record.finished.set()

    do_GET = do_POST = do_DELETE = do_PUT = _dispatch

    def read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, record: Recorded, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def start_events(self, record: Recorded) -> None:
        record.status = 200
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def event(self, data: str) -> None:
        """One SSE event, in one HTTP chunk."""
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()

    def end_events(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class StandinServer(TrackingHTTPServer):
    def __init__(self, standin: Any, port: int = 0) -> None:
        super().__init__(Handler, port, internal_errors=standin.internal_errors)
        self.standin = standin


def completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex[:24]


def now() -> int:
    return int(time.time())
