"""How the stand-in runs answers at once, and the failures a busy daemon shows.

- `num_parallel` (None: no limit, the stand-in's behaviour before it
  modelled scheduling): at most this many answers are generated at once, as
  llama-server's slots do for one loaded model (OLLAMA_NUM_PARALLEL, default
  1 since Ollama v0.10). Further requests wait their turn, as in Ollama
  (runner semaphore; they are not refused).
- a model's `latency`: seconds each answer holds its slot before streaming,
  a fixed per-request cost (benchmarks).
- `inject_chat_failure("busy" | "drop", count, after)`: the next `count`
  chat/generate requests get what a busy or dying daemon sends:
  "busy" is HTTP 503 with the scheduler's text (sched.go ErrMaxQueue,
  "server busy, please try again.  maximum pending requests exceeded");
  "drop" cuts the TCP connection after `after` answer lines.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

ERR_MAX_QUEUE = "server busy, please try again.  maximum pending requests exceeded"
FAILURE_KINDS = ("busy", "drop")


@dataclass
class Failure:
    kind: str  # "busy" | "drop"
    after: int  # "drop": answer lines sent before the cut


class Scheduler:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self.num_parallel: int | None = None
        self.running = 0
        self.peak_running = 0  # the most answers generated at once so far
        self._failures: list[Failure] = []

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the `num_parallel` slots while an answer is generated."""
        with self._lock:
            while self.num_parallel is not None and self.running >= self.num_parallel:
                self._lock.wait()
            self.running += 1
            self.peak_running = max(self.peak_running, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
                self._lock.notify_all()

    def inject(self, kind: str, count: int = 1, after: int = 0) -> None:
        if kind not in FAILURE_KINDS:
            raise ValueError(f"failure kind must be one of {FAILURE_KINDS}, not {kind!r}")
        with self._lock:
            self._failures += [Failure(kind, after)] * count

    def take_failure(self) -> Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None
