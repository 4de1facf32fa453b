"""OpenAIBackend: the Backend protocol over one or more OpenAI-compatible servers.

Each request goes to one endpoint of a shared `EndpointPool` (least
outstanding; failing ones out for a while; 429s out for their Retry-After).
A request the endpoint fails before any answer text arrived is sent to
another endpoint; once text has been yielded it is never silently answered
again: the failure is a `StreamError` with the partial text (transient when
the endpoint dropped or stalled, so a batch asks again, visibly).
"""

from __future__ import annotations

import time
from typing import Any, Iterator

from mcv.core.backends.base import Capabilities, ChatRequest, Chunk
from mcv.core.backends.endpoints import Endpoint, EndpointPool, close_engine
from mcv.core.backends.openai.client import EndpointFailure, OpenAIClient, RateLimited, SchemaFormatRefused
from mcv.core.backends.openai.payload import OPTIONS, build_payload, delta_of, metrics_of
from mcv.errors import McvError, ModelNotFound, ServerUnavailable, StreamError

NAME = "openai"
LONGEST_WAIT = 120.0  # seconds a request waits for a rate-limited endpoint (Retry-After) before failing


class OpenAIBackend:
    name = NAME
    pair = None

    def __init__(
        self, pool: EndpointPool, clients: dict[str, OpenAIClient], models: dict[str, dict[str, Any]], lacking: set[str]
    ) -> None:
        self.pool = pool
        self.clients = clients  # url -> client
        self.models = models  # model id -> its /models entry (from the endpoints that answered)
        self._lacking = {e for e in pool.endpoints if e.url in lacking}  # answered without the model
        self._schema_in_json_object: set[str] = set()  # endpoints that take a schema only inside json_object
        self._closed = False

    @property
    def where(self) -> str:
        shown = [client.where for client in self.clients.values()]
        if len(shown) == 1:
            return f"OpenAI-compatible server at {shown[0]}"
        return f"{len(shown)} OpenAI-compatible servers ({', '.join(shown)})"

    @property
    def slots(self) -> int:
        """Requests the endpoints answer at once, together (a batch's lanes)."""
        return self.pool.slots

    def capabilities(self, model: str) -> Capabilities:
        entry = self.models.get(self.model_id(model))
        if entry is None:
            raise ModelNotFound(
                f"model '{model}' is not served at {self.where}; it serves: {', '.join(sorted(self.models)) or 'nothing'}",
                hint="name one of them with -m",
            )
        size = entry.get("max_model_len")
        return Capabilities(
            vision=None,  # /models does not say whether a model sees: images are sent, the server decides
            json_schema=True,
            thinking=False,
            options=frozenset(OPTIONS),
            num_ctx=size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None,
        )

    def model_id(self, model: str) -> str:
        """The id the servers list for `model` (Ollama's /v1 lists `minicpm-v:latest` for `minicpm-v`)."""
        if model in self.models or ":" in model:
            return model
        return f"{model}:latest" if f"{model}:latest" in self.models else model

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        self.capabilities(request.parameters.model)
        return self._chunks(build_payload(request, self.model_id(request.parameters.model)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        close_engine(self.clients.values(), self.pool)

    def __enter__(self) -> "OpenAIBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OpenAIBackend({self.where!r})"

    # --- one request, over the endpoints --------------------------------------------------

    def _next_endpoint(self, tried: list[Endpoint], error: McvError | None) -> Endpoint:
        """The endpoint to try next (EndpointPool.next_for); the last error when every one has had its chance."""
        endpoint = self.pool.next_for(
            tried,
            self._lacking,
            longest_wait=LONGEST_WAIT,
            too_long=lambda wait: RateLimited(f"{self.where}: rate limited for {wait:.0f} s more", retry_after=wait),
        )
        if endpoint is None:
            raise error or ServerUnavailable(f"no endpoint of {self.where} has the model")
        return endpoint

    def _chunks(self, payload: dict[str, Any]) -> Iterator[Chunk]:
        tried: list[Endpoint] = []
        error: McvError | None = None
        attempts = 0
        while True:
            endpoint = self._next_endpoint(tried, error)
            attempts += 1
            tried.append(endpoint)
            client = self.clients[endpoint.url]
            text: list[str] = []
            started = time.monotonic()
            first_text: float | None = None
            finish: str | None = None
            usage: Any = None
            events = client.chat(self._for(endpoint, payload))
            try:
                for event in events:
                    piece, thinking, reason = delta_of(event)
                    finish = reason or finish
                    usage = event.get("usage") or usage
                    if piece or thinking:
                        if first_text is None:
                            first_text = time.monotonic()
                        text.append(piece)
                        yield Chunk(text=piece, thinking=thinking)
                ended = time.monotonic()
            except GeneratorExit:
                self.pool.released(endpoint)
                raise
            except RateLimited as err:
                self.pool.rate_limited(endpoint, err.retry_after)
                error = self._again_or_raise(err, text, attempts)
                continue
            except (EndpointFailure, ServerUnavailable) as err:  # dropped, 5xx, stalled (EndpointStalled)
                self.pool.failed(endpoint)
                error = self._again_or_raise(err, text, attempts)
                continue
            except ModelNotFound as err:
                self.pool.finished(endpoint)
                if text or len(self._lacking) + 1 >= len(self.pool.endpoints):
                    raise
                self._lacking.add(endpoint)  # came back without the model: the others may have it
                error = err
                continue
            except SchemaFormatRefused:
                self.pool.finished(endpoint)
                if endpoint.url in self._schema_in_json_object or not _has_json_schema(payload):
                    raise
                # llama_cpp.server's form: {"type": "json_object", "schema": ...}; the same endpoint, asked again
                self._schema_in_json_object.add(endpoint.url)
                tried.remove(endpoint)
                continue
            except StreamError as err:
                self.pool.finished(endpoint)
                raise StreamError(err.message, partial="".join(text), hint=err.hint, transient=err.transient) from None
            except McvError:
                self.pool.finished(endpoint)  # the request's own error (400, 500): another endpoint would say the same
                raise
            except BaseException:
                self.pool.released(endpoint)
                raise
            finally:
                events.close()
            self.pool.finished(endpoint)
            yield Chunk(done=True, done_reason=finish, metrics=metrics_of(usage, started=started, first_text=first_text, ended=ended))
            return

    def _for(self, endpoint: Endpoint, payload: dict[str, Any]) -> dict[str, Any]:
        """The payload as this endpoint takes it."""
        if endpoint.url not in self._schema_in_json_object or not _has_json_schema(payload):
            return payload
        schema = payload["response_format"]["json_schema"]["schema"]
        return {**payload, "response_format": {"type": "json_object", "schema": schema}}

    def _again_or_raise(self, err: McvError, text: list[str], attempts: int) -> McvError:
        """Before any text: the error to remember while another endpoint is tried. After text: a
        transient StreamError (never answered again silently: the caller decides, visibly)."""
        if text:
            raise StreamError(err.message, partial="".join(text), hint=err.hint, transient=True)
        if attempts >= 2 * len(self.pool.endpoints) + 4:
            raise err
        return err


def _has_json_schema(payload: dict[str, Any]) -> bool:
    return (payload.get("response_format") or {}).get("type") == "json_schema"
