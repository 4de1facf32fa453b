"""HTTP plumbing of the stand-in: a threaded HTTP/1.1 server that behaves on
the wire like Ollama's Go server (gin + net/http).

- NDJSON streams are sent with chunked encoding, one flushed line per event;
  an error before anything was written becomes a plain JSON error response
  with its status, an error after that becomes a final `{"error"}` line
  under status 200 (gin's streamResponse).
- A client that goes away mid-stream is noticed between events (as Go's
  request context is cancelled): generation stops and the request is
  recorded as `cancelled`.
- A request body the handler did not read is discarded up to 256 KiB, and
  beyond that the connection is closed after the reply, like net/http.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from . import golang
from ..standin_http import TrackingHTTPServer

MAX_DISCARD = 256 << 10  # net/http maxPostHandlerReadBytes
RST_AVOIDANCE_DELAY = 0.5  # net/http waits this long before closing after a FIN


@dataclass
class RecordedRequest:
    """One request as the stand-in saw it."""

    method: str
    path: str
    headers: dict[str, str]
    json: Any = None  # the parsed body, when it was JSON
    body_size: int = 0  # bytes of body the server read
    status: int | None = None
    cancelled: bool = False  # the client closed the connection mid-stream
    lines_sent: int = 0  # NDJSON lines written
    finished: threading.Event = field(default_factory=threading.Event, repr=False)


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str | None = "application/json; charset=utf-8"


def json_reply(status: int, obj: Any) -> Reply:
    return Reply(status, golang.marshal(obj))


def error_reply(status: int, message: str) -> Reply:
    return json_reply(status, {"error": message})


def text_reply(status: int, text: str) -> Reply:
    return Reply(status, text.encode(), "text/plain; charset=utf-8")


@dataclass
class Error:
    """A stream event: the operation failed (status used if nothing was sent yet)."""

    message: str
    status: int = 500


@dataclass
class Drop:
    """A stream event: the daemon dies here (the connection is cut, nothing more is sent)."""


@dataclass
class Pause:
    """A stream event: wait this long (the client may hang up meanwhile)."""

    seconds: float


@dataclass
class Stream:
    events: Iterable[Any]  # dict (one NDJSON line) | Error | Pause


class Request:
    """The incoming request; the body is read on demand (blobs stream it)."""

    def __init__(self, handler: "Handler", record: RecordedRequest) -> None:
        self._h = handler
        self.record = record
        self.method = record.method
        self.path = record.path
        self.headers = record.headers
        self._chunked = "chunked" in handler.headers.get("Transfer-Encoding", "").lower()
        self._left = int(handler.headers.get("Content-Length") or 0)
        self._done = not self._chunked and self._left == 0

    @property
    def body_done(self) -> bool:
        return self._done

    def iter_body(self, size: int = 1 << 16) -> Iterator[bytes]:
        rfile = self._h.rfile
        while not self._done:
            if self._chunked:
                if self._left == 0:
                    line = rfile.readline(1024).split(b";")[0].strip()
                    self._left = int(line or b"0", 16)
                    if self._left == 0:
                        while rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass  # trailers
                        self._done = True
                        return
                data = rfile.read(min(size, self._left))
                self._left -= len(data)
                if self._left == 0:
                    rfile.readline(8)  # CRLF after the chunk
            else:
                data = rfile.read(min(size, self._left))
                self._left -= len(data)
                self._done = self._left == 0
            if not data:
                self._done = True
                raise ConnectionError("client closed the connection mid-body")
            self.record.body_size += len(data)
            yield data

    def read_body(self) -> bytes:
        return b"".join(self.iter_body())

    def discard(self, limit: int) -> bool:
        """Read and drop up to `limit` bytes; True if the body is then complete."""
        dropped = 0
        for chunk in self.iter_body(min(limit, 1 << 16)):
            dropped += len(chunk)
            if dropped >= limit and not self._done:
                return False
        return True


Route = Callable[[Request], "Reply | Stream"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Go's net/http (the real daemon) sets TCP_NODELAY; without it Nagle plus
    # delayed ACKs add ~40 ms to every response and skew latency benchmarks.
    disable_nagle_algorithm = True
    server: "StandinHTTPServer"
    server_version = "ollama-standin"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # tests read `standin.requests` instead

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        record = RecordedRequest(
            method=self.command,
            path=unquote(parts.path),
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        self.server.record(record)
        request = Request(self, record)
        try:
            result = self.server.route(request)
            if isinstance(result, Stream):
                self._send_stream(request, result)
            elif isinstance(result, Drop):
                self._stream_events(request, Stream([result]))
            else:
                self._send_reply(request, result)
        except (BrokenPipeError, ConnectionError):
            record.cancelled = True
            self.close_connection = True
        except Exception as err:  # a bug in the stand-in itself: make it loud
            self.server.internal_errors.append(f"{self.command} {record.path}: {err!r}")
            self.close_connection = True
        finally:
            record.finished.set()

    do_GET = do_POST = do_HEAD = do_DELETE = do_PUT = do_PATCH = do_OPTIONS = _dispatch

    def _send_reply(self, request: Request, reply: Reply) -> None:
        too_big = False
        if not request.body_done:
            too_big = not request.discard(MAX_DISCARD + 1)
        request.record.status = reply.status
        self.send_response(reply.status)
        if reply.content_type and reply.body:
            self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if too_big:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)
        self.wfile.flush()
        if too_big:
            # net/http: FIN, wait, then close (the unread body makes it an RST).
            try:
                self.connection.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            time.sleep(RST_AVOIDANCE_DELAY)

    def _send_stream(self, request: Request, stream: Stream) -> None:
        try:
            self._stream_events(request, stream)
        finally:
            close = getattr(stream.events, "close", None)
            if close is not None:
                close()  # a generator left early releases what it holds (a scheduler slot)

    def _stream_events(self, request: Request, stream: Stream) -> None:
        record = request.record
        started = False
        for event in stream.events:
            if isinstance(event, Drop):
                record.cancelled = True
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            if isinstance(event, Pause):
                if self._wait_or_gone(event.seconds):
                    record.cancelled = True
                    self.close_connection = True
                    return
                continue
            if self._client_gone():
                record.cancelled = True
                self.close_connection = True
                return
            if isinstance(event, Error) and not started:
                self._send_reply(request, error_reply(event.status, event.message))
                return
            if not started:
                record.status = 200
                self.send_response(200)
                self.send_header("Content-Type", "application/x-ndjson")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                started = True
            line = {"error": event.message} if isinstance(event, Error) else event
            self._chunk(golang.marshal(line) + b"\n")
            record.lines_sent += 1
            if isinstance(event, Error):
                break
        if not started:
            self._send_reply(request, Reply(200, b""))
            return
        self._chunk(b"")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _wait_or_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while True:
            if self._client_gone():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, 0.01))


class StandinHTTPServer(TrackingHTTPServer):
    def __init__(self, route: Route, record: Callable[[RecordedRequest], None]) -> None:
        super().__init__(Handler)
        self.route = route
        self.record = record


def stream_or_wait(events: Iterable[Any], stream: bool | None) -> "Reply | Stream":
    """gin's two answers for progress: NDJSON, or (stream:false) the last object / the error."""
    if stream is not False:
        return Stream(events)
    latest: dict = {}
    for event in events:  # waitForStream
        if isinstance(event, Error):
            return error_reply(event.status, event.message)
        latest = event
    return json_reply(200, latest)
