"""The HTTP server under both stand-ins (Ollama, OpenAI): local, threaded, and able to die.

It tracks its open connections so a stand-in's stop() can cut them as a dying server
would, and keeps exceptions of its own (not the OSErrors of connections cut by clients or
by stop()) in `internal_errors`, for the fixture to fail the test with.
"""

from __future__ import annotations

import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class TrackingHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0, *, internal_errors: list[str] | None = None):
        super().__init__(("127.0.0.1", port), handler)
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.internal_errors: list[str] = [] if internal_errors is None else internal_errors

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            self.internal_errors.append("".join(traceback.format_exception(exc)))

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            (self._conns.add if add else self._conns.discard)(conn)

    def drop_connections(self) -> None:
        """Cut every open connection, as a server that dies would."""
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
