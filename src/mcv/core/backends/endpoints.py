"""Several servers answering as one engine: which one takes the next request.

An `EndpointPool` holds the endpoints of one engine (the `--base-url`s of
the openai backend) and is shared by every backend opened on the same
endpoints in this process (`open_pool`/`close_pool`), so the lanes of a
batch, each with its own session, see one picture of who is busy:

- **least outstanding**: a request goes to the endpoint with the fewest
  requests in flight (ties: the one that was least recently chosen), so a
  fast server takes more of the work than a slow one;
- **taken out for a while**: an endpoint that fails (refuses connections,
  drops them, answers 5xx, goes silent) is left out for a cool-down that doubles with
  each failure in a row (1 s up to 30 s), then tried again; one success
  puts it back for good;
- **Retry-After**: a 429 leaves the endpoint out for exactly as long as the
  server asked (capped at 10 minutes).

The pool knows nothing about HTTP: the backend reports what happened
(`finished`, `failed`, `rate_limited`).
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Collection, Iterable

COOL_DOWN_FIRST = 1.0  # seconds out after a first failure; doubled for each failure in a row
COOL_DOWN_MAX = 30.0
RETRY_AFTER_MAX = 600.0


@dataclass(eq=False)
class Endpoint:
    url: str
    slots: int = 1  # requests it answers at once (what a batch's lanes are counted from)
    outstanding: int = 0  # requests in flight now
    failures: int = 0  # failures in a row
    out_until: float = 0.0  # monotonic time it comes back after a failure
    limited_until: float = 0.0  # monotonic time its Retry-After ends (429)
    last_chosen: int = 0
    answered: int = 0  # requests finished here (for notes and tests)

    def out(self, now: float) -> bool:
        return now < self.out_until or self.limited(now)

    def limited(self, now: float) -> bool:
        return now < self.limited_until

    @property
    def back_at(self) -> float:
        return max(self.out_until, self.limited_until)


@dataclass(eq=False)
class EndpointPool:
    endpoints: list[Endpoint]
    clock: Callable[[], float] = time.monotonic
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ticket: "itertools.count[int]" = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def of(cls, urls: Iterable[str], slots: int = 1, **kwargs) -> "EndpointPool":
        return cls([Endpoint(url, slots) for url in urls], **kwargs)

    @property
    def slots(self) -> int:
        """Requests the endpoints answer at once, together."""
        return sum(endpoint.slots for endpoint in self.endpoints)

    def acquire(self, exclude: Iterable[Endpoint] = ()) -> Endpoint | None:
        """The endpoint for the next request, counted as busy until `finished`/`failed`/`rate_limited`;
        None when every endpoint not in `exclude` is out (see `wait_time`)."""
        skip = set(map(id, exclude))
        with self._lock:
            now = self.clock()
            ready = [e for e in self.endpoints if id(e) not in skip and not e.out(now)]
            if not ready:
                return None
            chosen = min(ready, key=lambda e: (e.outstanding, e.last_chosen))
            chosen.outstanding += 1
            chosen.last_chosen = next(self._ticket)
            return chosen

    def acquire_soonest(self, among: Iterable[Endpoint]) -> Endpoint:
        """Of `among` (endpoints all out), the one back soonest, counted as busy: for a request no
        endpoint has seen yet, which should not fail only because of earlier failures."""
        with self._lock:
            chosen = min(among, key=lambda e: e.back_at)
            chosen.outstanding += 1
            chosen.last_chosen = next(self._ticket)
            return chosen

    def wait_time(self, exclude: Iterable[Endpoint] = ()) -> float | None:
        """Seconds until an endpoint not in `exclude` is back; 0 when one is in now; None when all are excluded."""
        skip = set(map(id, exclude))
        with self._lock:
            now = self.clock()
            left = [e for e in self.endpoints if id(e) not in skip]
            if not left:
                return None
            return max(0.0, min(e.back_at for e in left) - now)

    def next_for(
        self, tried: list[Endpoint], skip: Collection[Endpoint] = (), *, longest_wait: float, too_long: Callable[[float], Exception]
    ) -> Endpoint | None:
        """The endpoint for a request's next attempt (`tried`: the ones it went to already; `skip`:
        never these), counted as busy; None when every endpoint has had its chance. An endpoint out
        only after earlier failures is tried rather than fail a request none has seen (a server that
        came back answers it); when only Retry-Afters are left, their end is waited for (up to
        `longest_wait` seconds, else `too_long(seconds)` is raised) and every endpoint may be tried again."""
        while True:
            endpoint = self.acquire(exclude=[*tried, *skip])
            if endpoint is not None:
                return endpoint
            now = self.clock()
            untried = [e for e in self.endpoints if e not in tried and e not in skip]
            cooling = [e for e in untried if not e.limited(now)]
            if cooling:
                return self.acquire_soonest(cooling)
            limited = [e for e in self.endpoints if e not in skip and e.limited(now)]
            if not limited:
                return None
            wait = min(e.limited_until for e in limited) - now
            if wait > longest_wait:
                raise too_long(wait)
            time.sleep(wait)  # the server said when: honour it
            tried.clear()

    def finished(self, endpoint: Endpoint) -> None:
        """The request ended without the endpoint failing (an answer, or an error that was the request's own)."""
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.failures = 0
            endpoint.answered += 1

    def released(self, endpoint: Endpoint) -> None:
        """The request was given up by the caller (closed early): nothing learnt about the endpoint."""
        with self._lock:
            endpoint.outstanding -= 1

    def failed(self, endpoint: Endpoint) -> float:
        """The endpoint failed the request: out for a cool-down (returned)."""
        with self._lock:
            endpoint.outstanding -= 1
            endpoint.failures += 1
            pause = min(COOL_DOWN_MAX, COOL_DOWN_FIRST * 2 ** (endpoint.failures - 1))
            endpoint.out_until = max(endpoint.out_until, self.clock() + pause)
            return pause

    def rate_limited(self, endpoint: Endpoint, retry_after: float | None) -> float:
        """A 429: out for as long as the server asked (or the first cool-down when it did not say)."""
        with self._lock:
            endpoint.outstanding -= 1
            pause = COOL_DOWN_FIRST if retry_after is None else min(RETRY_AFTER_MAX, max(0.0, retry_after))
            endpoint.limited_until = max(endpoint.limited_until, self.clock() + pause)
            return pause


# One pool per set of endpoints in this process, while some backend uses it.
_shared: dict[tuple, list] = {}  # key -> [pool, users]
_shared_lock = threading.Lock()


def open_pool(urls: Iterable[str], slots: int = 1) -> EndpointPool:
    """The pool for these endpoints that every backend in this process shares (close it with `close_pool`)."""
    key = (tuple(urls), slots)
    with _shared_lock:
        entry = _shared.get(key)
        if entry is None:
            entry = _shared[key] = [EndpointPool.of(key[0], slots), 0]
        entry[1] += 1
        return entry[0]


def close_pool(pool: EndpointPool) -> None:
    """One user fewer; the last one forgets the pool (a later run starts with every endpoint in)."""
    with _shared_lock:
        for key, entry in list(_shared.items()):
            if entry[0] is pool:
                entry[1] -= 1
                if entry[1] <= 0:
                    del _shared[key]
                return


def close_engine(clients: Iterable, pool: EndpointPool) -> None:
    """Close an engine's clients (one per endpoint) and let go of its pool: when it is done, or
    when it failed to open."""
    for client in clients:
        client.close()
    close_pool(pool)
