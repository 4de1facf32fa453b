"""Several Ollama daemons (`--host` repeated) answering as one engine.

Each request goes to one daemon of a shared `EndpointPool`
(core/backends/endpoints.py): the one with the fewest requests in flight; a
daemon that refuses connections, drops them or answers 503 (its queue is
full) is left out for a while, then tried again. A request a daemon fails
before any answer text arrived goes to another daemon; once text has been
yielded it is never answered again silently: the failure is a transient
`StreamError` with the partial text, so a batch asks again, visibly. The
model's capabilities come from the first daemon that has it.
"""

from __future__ import annotations

from typing import Iterator

from mcv.core.backends.base import ChatRequest, Chunk
from mcv.core.backends.endpoints import Endpoint, EndpointPool, close_engine, open_pool
from mcv.core.backends.ollama import OllamaBackend, build_chat_payload, default_context, num_parallel
from mcv.core.ollama.client import OllamaClient
from mcv.errors import McvError, ModelNotFound, ServerUnavailable, StreamError


def open_pooled(settings, hosts: list[str], model: str) -> "PooledOllamaBackend":
    """The daemons at `hosts` as one engine that has `model`: ServerUnavailable when none answers,
    ModelNotFound (what the first answering daemon has instead) when none has it."""
    clients = {host: OllamaClient(host, environ=settings.environ) for host in hosts}
    pool = open_pool(hosts, num_parallel(settings.environ))
    try:
        backend = PooledOllamaBackend(clients, pool, default_num_ctx=default_context(settings.environ))
        backend.probe(model)
        return backend
    except BaseException:
        close_engine(clients.values(), pool)
        raise


class PooledOllamaBackend(OllamaBackend):
    def __init__(self, clients: dict[str, OllamaClient], pool: EndpointPool, *, default_num_ctx: int = 0) -> None:
        super().__init__(next(iter(clients.values())), default_num_ctx=default_num_ctx)
        self.clients = clients  # host -> client
        self.pool = pool
        self._lacking: set[Endpoint] = set()  # daemons that answered without the model
        self._closed = False

    @property
    def where(self) -> str:
        return f"{len(self.clients)} Ollama daemons ({', '.join(self.clients)})"

    @property
    def slots(self) -> int:
        """Requests the daemons answer at once, together (a batch's lanes)."""
        return self.pool.slots

    def probe(self, model: str) -> None:
        """Ask each daemon for `model`: capabilities from the first that has it (it then answers
        /api/show and /api/ps for the engine); one that does not answer is out for a while."""
        down: list[McvError] = []
        found = False
        for endpoint in self.pool.endpoints:
            client = self.clients[endpoint.url]
            try:
                client.show(model)
            except ModelNotFound:
                self._lacking.add(endpoint)
                continue
            except ServerUnavailable as err:
                if endpoint.outstanding == 0 and not endpoint.out(self.pool.clock()):
                    self.pool.acquire_soonest([endpoint])
                    self.pool.failed(endpoint)  # out for a while; requests go to the others
                down.append(err)
                continue
            if not found:
                self.client, found = client, True
                self.capabilities(model)
        if found:
            return
        if not self._lacking:
            raise ServerUnavailable(
                f"none of the {len(self.clients)} Ollama daemons answers: " + "; ".join(e.message for e in down),
                hint=down[0].hint,
            )
        self.client = self.clients[next(iter(self._lacking)).url]
        raise self._not_found(model)

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        return self._spread(build_chat_payload(request))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close_engine(self.clients.values(), self.pool)

    def _spread(self, payload: dict) -> Iterator[Chunk]:
        tried: list[Endpoint] = []
        error: McvError | None = None
        while True:
            endpoint = self.pool.next_for(
                tried, self._lacking, longest_wait=0.0, too_long=lambda wait: error or ServerUnavailable(self.where)
            )
            if endpoint is None:  # every daemon has had its chance
                raise error or ServerUnavailable(f"none of {self.where} has the model")
            tried.append(endpoint)
            said = False  # answer text (or thinking) yielded from this daemon
            stream = self._chunks(payload, self.clients[endpoint.url])
            try:
                for chunk in stream:
                    said = said or bool(chunk.text or chunk.thinking)
                    yield chunk
            except GeneratorExit:
                self.pool.released(endpoint)
                raise
            except ModelNotFound as err:
                self.pool.finished(endpoint)
                if said or len(self._lacking) + 1 >= len(self.pool.endpoints):
                    raise
                self._lacking.add(endpoint)  # the model went away there: the others may have it
                error = err
                continue
            except McvError as err:
                if not (err.transient or isinstance(err, ServerUnavailable)):
                    self.pool.finished(endpoint)  # the request's own error: another daemon would say the same
                    raise
                self.pool.failed(endpoint)
                if said:
                    partial = err.partial if isinstance(err, StreamError) else ""
                    raise StreamError(err.message, partial=partial, hint=err.hint, transient=True) from None
                error = err
                continue
            except BaseException:
                self.pool.released(endpoint)
                raise
            finally:
                stream.close()
            self.pool.finished(endpoint)
            return
