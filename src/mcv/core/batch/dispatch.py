"""Sending a batch's prepared images to the engines: endpoints, lanes, retries.

An `Endpoint` is one engine that answers (an Ollama daemon; the
in-process engine), with its number of `slots`, the requests it
answers at once. Each slot is a `Lane`: a thread with its own core
`Session` that takes the next prepared image from the shared queue when
its previous answer is done. Pulling work when free routes every request
to an endpoint with a free slot (least outstanding requests first, by
construction), so a fast daemon takes more of the batch than a slow one.
Several servers (`--base-url` or `--host`, repeated) are one `Endpoint`
here: the openai and Ollama backends spread their requests over them
themselves (core/backends/endpoints.py) and say how many slots they have
together (`Session.engine_slots`) and how many servers (`engine_servers`).

Lanes by default: Ollama answers OLLAMA_NUM_PARALLEL requests at once
(default 1 since v0.10) and does not report the number over its API, so it
is read from this environment, which is where `ollama serve` usually gets
it too. A server gets one lane more than it has slots: that request waits
in the server's queue, so a slot that finishes starts on the next image at
once instead of idling while the answer travels back and the next request
is built, sent and decoded (P3 measured ~8% of a 150 ms answer lost that
way). `-j` sets the total instead. The in-process engine holds one model
and answers one request at a time: one lane, whatever `-j` says.

Retries: a 503 (the daemon's queue is full) or a dropped connection is
asked again after 0.5, 1, 2, 4 s (+-25% jitter), then reported as the
item's error. A daemon that stops answering altogether (connection
refused) is given the same retries; then its lanes stop and hand their
image back for the other endpoints. When no endpoint is left the batch
stops (what was answered is written; --resume continues).
"""

from __future__ import annotations

import queue
import random
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from mcv.core.events import Done, Failed, Route
from mcv.core.images.types import PreparedImage
from mcv.errors import BackendError, McvError, ServerUnavailable, UsageError

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0)


@dataclass
class Endpoint:
    settings: Any  # core.settings.Settings bound to this engine (host, backend)
    route: Route
    slots: int
    servers: int = 1  # servers behind it (several: an engine that spreads over them), one request queued at each
    down: bool = False
    session: Any = None  # the session that probed it, handed to its first lane

    @property
    def where(self) -> str:
        return self.route.where


@dataclass
class Item:
    """One prepared image waiting for an answer."""

    unit: Any  # the file (inputs.Input)
    sha256: str
    page: int | None
    image: PreparedImage

    @property
    def label(self) -> str:
        """The file as records show it."""
        return self.unit.label


@dataclass
class Answer:
    """What a lane made of an item: a Done, or the error that ended it."""

    item: Item
    done: Done | None = None
    error: McvError | None = None
    raw: str = ""  # the answer text of a failed turn (a schema mismatch's raw answer, a partial)
    endpoint: Endpoint | None = None


@dataclass
class Retry:
    """A lane will ask again after `delay` seconds (for the surface to mention)."""

    item: Item
    error: McvError
    attempt: int
    delay: float


@dataclass
class EndpointDown:
    endpoint: Endpoint
    error: McvError
    others_left: bool


def default_slots(route: Route, environ: Mapping[str, str], engine_slots: int | None = None) -> int:
    """Requests an engine answers at once (module docstring); an engine that spreads over several
    endpoints itself (openai: Session.engine_slots) says how many its endpoints answer together."""
    if engine_slots:
        return engine_slots
    if route.backend == "ollama":
        from mcv.core.backends.ollama import num_parallel

        return num_parallel(environ)
    return 1


def settings_for(settings, **flags: Any):
    """`settings` with command-line values replaced (host, backend): one endpoint's settings."""
    from mcv.core.settings import Settings

    config = replace(settings.config, flags={**settings.config.flags, **flags})
    return Settings(config, settings.pair_sources)


def default_lanes(endpoint: Endpoint) -> int:
    """Lanes for an endpoint when -j is not given (module docstring)."""
    return 1 if endpoint.route.pair is not None else endpoint.slots + endpoint.servers


def spread(total: int, endpoints: list[Endpoint]) -> list[int]:
    """`-j total` lanes over the endpoints, round robin; an in-process engine gets at most one."""
    counts = [0] * len(endpoints)
    capacity = [1 if e.route.pair is not None else total for e in endpoints]
    assigned = 0
    while assigned < total and any(c < cap for c, cap in zip(counts, capacity)):
        for k in range(len(endpoints)):
            if assigned < total and counts[k] < capacity[k]:
                counts[k] += 1
                assigned += 1
    return counts


def _join(thread: threading.Thread, deadline: float) -> None:
    """Wait for `thread` until `deadline` (monotonic); one that never started (Ctrl-C came
    while the lanes were being started) is nothing to wait for."""
    try:
        thread.join(max(0.0, deadline - time.monotonic()))
    except RuntimeError:  # "cannot join thread before it is started"
        pass


@dataclass
class Lanes:
    """The lanes of every endpoint over one shared queue of items."""

    endpoints: list[Endpoint]
    make_session: Callable[[Endpoint], Any]  # a Session set up for the task, for one lane
    ask: Callable[[Any, Item], Any]  # (session, item) -> Turn
    results: "queue.Queue[Any]"
    delays: tuple[float, ...] = RETRY_DELAYS
    work: "queue.Queue[Item | None]" = field(default_factory=queue.Queue)
    stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _sessions: set = field(default_factory=set)  # the lanes' open sessions
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, counts: list[int]) -> None:
        for endpoint, count in zip(self.endpoints, counts):
            for n in range(count):
                session, endpoint.session = endpoint.session, None
                thread = threading.Thread(
                    target=self._run, args=(endpoint, session), daemon=True, name=f"mcv-lane-{len(self._threads)}"
                )
                self._threads.append(thread)
        for thread in self._threads:
            thread.start()

    def put(self, item: Item) -> None:
        self.work.put(item)

    def close(self, *, grace: float = 0.2, wait: float = 1.0) -> None:
        """Stop taking work. Answers still in flight after `grace` seconds get their
        sessions closed; a lane still blocked reading a daemon's answer after
        `wait` more seconds is left behind (a daemon thread: it ends with the
        answer, or with the process, whose exit closes its connection, which
        stops the daemon's generation)."""
        self.stop.set()
        for _ in self._threads:
            self.work.put(None)
        deadline = time.monotonic() + grace
        for thread in self._threads:
            _join(thread, deadline)
        with self._lock:
            open_sessions = list(self._sessions)
        for session in open_sessions:
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closed from another thread: nothing to report any more
                pass
        deadline = time.monotonic() + wait
        for thread in self._threads:
            _join(thread, deadline)

    def _run(self, endpoint: Endpoint, session) -> None:
        try:
            if session is None:
                session = self.make_session(endpoint)
        except McvError as err:
            self._down(endpoint, err)
            return
        with self._lock:
            self._sessions.add(session)
        try:
            with session:
                while not self.stop.is_set():
                    item = self.work.get()
                    if item is None or self.stop.is_set():
                        return
                    try:
                        answer = self._answer(endpoint, session, item)
                    except Exception as err:  # a bug must cost one image, not hang the batch
                        error = BackendError(f"{item.label}: unexpected {type(err).__name__}: {err}")
                        answer = Answer(item, error=error, endpoint=endpoint)
                    if answer is None:  # the endpoint is gone: the item goes back for the others
                        self.work.put(item)
                        return
                    self.results.put(answer)
        finally:
            with self._lock:
                self._sessions.discard(session)

    def _answer(self, endpoint: Endpoint, session, item: Item) -> Answer | None:
        attempt = 0
        while True:
            done, error, raw = self._one_turn(session, item)
            if done is not None or error is None:
                return Answer(item, done=done, endpoint=endpoint)
            retryable = error.transient or isinstance(error, ServerUnavailable)
            if retryable and attempt < len(self.delays) and not self.stop.is_set():
                delay = self.delays[attempt] * random.uniform(0.75, 1.25)
                attempt += 1
                self.results.put(Retry(item, error, attempt, delay))
                if self.stop.wait(delay):
                    return Answer(item, error=error, raw=raw, endpoint=endpoint)
                continue
            if isinstance(error, ServerUnavailable):
                self._down(endpoint, error)
                return None
            return Answer(item, error=error, raw=raw, endpoint=endpoint)

    def _one_turn(self, session, item: Item) -> tuple[Done | None, McvError | None, str]:
        turn = self.ask(session, item)
        try:
            for event in turn:
                if self.stop.is_set():
                    return None, None, ""
                if isinstance(event, Done):
                    return event, None, ""
                if isinstance(event, Failed):
                    raw = getattr(event.error, "answer", None) or event.partial
                    return None, event.error, raw
        finally:
            turn.close()
        return None, UsageError("the answer ended without a result"), ""

    def _down(self, endpoint: Endpoint, error: McvError) -> None:
        with self._lock:
            if endpoint.down:
                return
            endpoint.down = True
            others = any(not e.down for e in self.endpoints)
        self.results.put(EndpointDown(endpoint, error, others))
