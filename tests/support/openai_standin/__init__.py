"""A strict stand-in for an OpenAI-compatible chat-completions server, for tests (no engine, no weights).

It serves `GET /v1/models` and `POST /v1/chat/completions` on 127.0.0.1 and
rejects what the OpenAI API rejects, with its error objects
(`{"error": {"message", "type", "param", "code"}}`): unknown request fields,
bad roles or content parts, an `image_url` that is not a base64 data URL of
a real JPEG/PNG (what Ollama's /v1 demands), images outside user messages,
`stream_options` without `stream`, a malformed `response_format`
(json_schema needs a `name` and a `schema` object), out-of-range sampling
values, an unknown model (404 `model_not_found`), a missing or wrong API key
when one is set (401). Streaming is SSE as OpenAI frames it: one
`data: {json}` event per chunk, a role-only first delta, a last chunk with
`finish_reason`, then (with `stream_options.include_usage`) a chunk with
empty `choices` and the `usage`, then `data: [DONE]`.

    def test_x(openai_standin):
        openai_standin.add_model("minicpm-v", answer="A red square.")
        env = {"OPENAI_BASE_URL": openai_standin.url}          # http://127.0.0.1:PORT/v1
        ...
        body = openai_standin.chats()[-1].json

API:
- `url` (…/v1); `add_model(id, answer=str | f(request_json) -> str, usage=True, max_model_len=None)`.
  The answer streams one word per chunk; `max_tokens` cuts it (words) with finish_reason "length".
- `slots` (None: no limit): answers generated at once, others wait; `latency`: seconds an answer holds
  its slot before the first word (as a busy GPU would); `chunk_delay`: seconds before each word.
- `fail(kind, count=1, after=0, retry_after="1")`: the next `count` chat requests get a 429 (with
  Retry-After, None: no header), a 503, a 500, have their connection cut after `after` content chunks
  ("drop"), get an error object as an SSE event after `after` chunks ("error_event"), get not one
  byte back, not even a status line ("stall"), or get `after` content chunks and then nothing more
  ("stall_stream"). A stalled connection stays open, silent, until `stop()` (or the client gives up).
- `freeze()`: as if the server process were SIGSTOPped: from now on every request (any path) is
  taken and never answered, and the streams in progress send nothing more; connections stay open.
  `stop()` ends it.
- `api_key`: when set, requests must carry `Authorization: Bearer <it>`.
- `requests` (every one: method, path, headers, json, status, chunks_sent, received_at, answered_at
  (monotonic), stalled), `chats()` (the chat ones),
  `answered` (chat requests answered in full).
- `stop()`: the server dies: the listener closes, open connections are cut. `restart()` listens
  again on the same port.
- `internal_errors`: the fixtures fail a test when the stand-in itself broke.

`openai_standin` is one server; `openai_standins()` makes as many as a test needs.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from .server import (
    Failure,
    Handler,
    Model,
    Recorded,
    Rejected,
    StandinServer,
    check_request,
    completion_id,
    error_body,
    now,
)

__all__ = ["OpenAIStandin", "openai_standin", "openai_standins"]


class OpenAIStandin:
    def __init__(
        self, *, slots: int | None = None, latency: float = 0.0, chunk_delay: float = 0.0, api_key: str | None = None
    ) -> None:
        self.models: dict[str, Model] = {}
        self.slots = slots
        self.latency = latency
        self.chunk_delay = chunk_delay
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.internal_errors: list[str] = []
        self.answered = 0
        self.frozen = False
        self.peak_running = 0
        self._running = 0
        self._failures: list[Failure] = []
        self._lock = threading.Lock()
        self._slot_free = threading.Condition(self._lock)
        self._stopped = threading.Event()  # releases the stalled requests
        self._server = StandinServer(self)
        self.port = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._serve()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def add_model(self, id: str, answer: Any = "A red square on white.", **kwargs: Any) -> Model:  # noqa: A002
        model = self.models[id] = Model(id, answer, **kwargs)
        return model

    def fail(self, kind: str, count: int = 1, after: int = 0, retry_after: str | None = "1") -> None:
        assert kind in ("429", "503", "500", "drop", "error_event", "stall", "stall_stream"), kind
        with self._lock:
            self._failures.extend(Failure(kind, after, retry_after) for _ in range(count))

    def chats(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    def record(self, record: Recorded) -> None:
        with self._lock:
            self.requests.append(record)

    def freeze(self) -> None:
        """Go silent without closing anything (a stopped process, a machine gone without a reset)."""
        self.frozen = True

    def stop(self) -> None:
        """Die: no more connections, the open ones cut (stalled ones too)."""
        self._stopped.set()
        if self._thread is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._server.drop_connections()
        self._thread.join(5)
        self._thread = None

    def restart(self) -> None:
        self._stopped.clear()
        self.frozen = False
        self._server = StandinServer(self, self.port)
        self._serve()

    close = stop

    def _serve(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True, name="openai-standin"
        )
        self._thread.start()

    # --- requests ----------------------------------------------------------------------------

    def handle(self, handler: Handler, record: Recorded) -> None:
        if self.frozen:  # a stopped process reads nothing: the kernel holds the request
            self._stall(handler, record)
            return
        body = handler.read_body()
        try:
            if self.api_key is not None and record.headers.get("authorization") != f"Bearer {self.api_key}":
                raise Rejected(401, "Incorrect API key provided.", code="invalid_api_key")
            if record.method == "GET" and record.path == "/v1/models":
                data = [self._model_entry(model) for model in self.models.values()]
                handler.reply(record, 200, json.dumps({"object": "list", "data": data}).encode())
                return
            if record.path != "/v1/chat/completions":
                raise Rejected(404, f"Invalid URL ({record.method} {record.path})")
            if record.method != "POST":
                raise Rejected(405, "Method not allowed")
            if (handler.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
                raise Rejected(400, "Content-Type must be application/json")
            try:
                record.json = json.loads(body)
            except ValueError:
                raise Rejected(400, "We could not parse the JSON body of your request.") from None
            model = check_request(record.json, self.models)
        except Rejected as err:
            handler.reply(record, err.status, error_body(err))
            return
        failure = self._next_failure()
        if failure is not None and failure.kind in ("429", "503", "500"):
            status = int(failure.kind)
            headers = {"Retry-After": failure.retry_after} if status == 429 and failure.retry_after is not None else {}
            message = {429: "Rate limit reached, please try again later.", 503: "The server is overloaded.", 500: "The server had an error."}[status]
            kind = {429: "rate_limit_exceeded", 503: "server_error", 500: "server_error"}[status]
            handler.reply(record, status, error_body(Rejected(status, message, kind=kind)), headers)
            return
        if failure is not None and failure.kind == "stall":
            self._stall(handler, record)
            return
        self._answer(handler, record, model, failure)

    def _stall(self, handler: Handler, record: Recorded) -> None:
        """Send nothing more and keep the connection open, until the stand-in stops."""
        record.stalled = True
        self._stopped.wait()
        handler.close_connection = True

    def _model_entry(self, model: Model) -> dict[str, Any]:
        entry: dict[str, Any] = {"id": model.id, "object": "model", "created": 1700000000, "owned_by": "standin"}
        if model.max_model_len is not None:
            entry["max_model_len"] = model.max_model_len
        return entry

    def _next_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None

    def _take_slot(self) -> None:
        with self._slot_free:
            while self.slots is not None and self._running >= self.slots:
                self._slot_free.wait()
            self._running += 1
            self.peak_running = max(self.peak_running, self._running)

    def _free_slot(self) -> None:
        with self._slot_free:
            self._running -= 1
            self._slot_free.notify()

    def _answer(self, handler: Handler, record: Recorded, model: Model, failure: Failure | None) -> None:
        request = record.json
        text = model.answer(request) if callable(model.answer) else model.answer
        words = [w + " " for w in text.split(" ")]
        words[-1] = words[-1][:-1]
        finish = "stop"
        limit = request.get("max_tokens")
        if isinstance(limit, int) and len(words) > limit:
            words, finish = words[:limit], "length"
        prompt_tokens = sum(len(json.dumps(m.get("content"))) // 4 for m in request["messages"])
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(words), "total_tokens": prompt_tokens + len(words)}
        self._take_slot()
        try:
            if self.latency:
                time.sleep(self.latency)
            if self.frozen:
                self._stall(handler, record)
                return
            ident, created = completion_id(), now()
            if not request.get("stream"):
                body = {
                    "id": ident, "object": "chat.completion", "created": created, "model": model.id,
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(words)}, "finish_reason": finish}],
                    "usage": usage,
                }  # fmt: skip
                handler.reply(record, 200, json.dumps(body).encode())
                record.answered_at = time.monotonic()
                with self._lock:
                    self.answered += 1
                return

            def chunk(delta: dict, reason: str | None = None) -> str:
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
                return json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model.id, "choices": [choice]})

            handler.start_events(record)
            handler.event(chunk({"role": "assistant", "content": ""}))
            for n, word in enumerate(words):
                if failure is not None and n == failure.after:
                    if failure.kind == "drop":
                        handler.drop()
                        return
                    if failure.kind == "stall_stream":
                        self._stall(handler, record)
                        return
                    error = {"error": {"message": "The model crashed while answering.", "type": "server_error", "param": None, "code": None}}
                    handler.event(json.dumps(error))
                    handler.end_events()
                    return
                if self.chunk_delay:
                    time.sleep(self.chunk_delay)
                if self.frozen:
                    self._stall(handler, record)
                    return
                handler.event(chunk({"content": word}))
                record.chunks_sent += 1
            if failure is not None and failure.kind == "drop":  # `after` beyond the answer: cut before [DONE]
                handler.drop()
                return
            if self.frozen or (failure is not None and failure.kind == "stall_stream"):  # silent before [DONE]
                self._stall(handler, record)
                return
            handler.event(chunk({}, finish))
            if (request.get("stream_options") or {}).get("include_usage") and model.usage:
                handler.event(json.dumps({"id": ident, "object": "chat.completion.chunk", "created": created, "model": model.id, "choices": [], "usage": usage}))
            handler.event("[DONE]")
            handler.end_events()
            record.answered_at = time.monotonic()
            with self._lock:
                self.answered += 1
        finally:
            self._free_slot()


def _check(standin: OpenAIStandin) -> None:
    if standin.internal_errors:
        pytest.fail("the OpenAI stand-in itself failed: " + " | ".join(standin.internal_errors))


@pytest.fixture
def openai_standin():
    standin = OpenAIStandin()
    try:
        yield standin
    finally:
        standin.stop()
    _check(standin)


@pytest.fixture
def openai_standins():
    made: list[OpenAIStandin] = []

    def make(**kwargs: Any) -> OpenAIStandin:
        made.append(OpenAIStandin(**kwargs))
        return made[-1]

    try:
        yield make
    finally:
        for standin in made:
            standin.stop()
    for standin in made:
        _check(standin)
