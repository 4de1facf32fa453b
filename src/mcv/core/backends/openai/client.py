"""HTTP to one OpenAI-compatible server (httpx only): /models and /chat/completions.

Every failure leaves as a one-line `McvError` saying whose fault it is,
which is what the backend spreads requests by:

- nothing listening, connect timeout       -> `ServerUnavailable`   (the endpoint's)
- no byte for `stall_timeout` seconds (for
  the headers or inside a stream)           -> `EndpointStalled`, an `EndpointFailure`: a server that was
                                               stopped or whose machine vanished without a reset would
                                               otherwise hold the request forever
- 429                                       -> `RateLimited`, with Retry-After (the endpoint's, for a while)
- 502/503/504, a connection dropped, a stream
  that ends without `data: [DONE]`          -> `EndpointFailure`      (the endpoint's; transient)
- 401/403                                   -> `BackendError` about the API key (the key is never shown)
- 404 naming the model                      -> `ModelNotFound`
- any other 4xx/500                         -> `BackendError` with the server's error message (the request's)
- an error object inside the stream         -> `StreamError`

The API key travels only in the Authorization header: it is in no repr,
message or log line, and URLs are shown without any user:password part.
"""

from __future__ import annotations

import json
import time
from email.utils import parsedate_to_datetime
from typing import Any, Iterator, Mapping

import httpx

from mcv import __version__
from mcv.errors import BackendError, ModelNotFound, ServerUnavailable, StreamError, TransientError, UsageError

_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0", "::"}
CONNECT_TIMEOUT = 10.0  # seconds: a machine that is gone answers no SYN
STALL_TIMEOUT = 300.0  # seconds without a byte (the openai.stall_timeout default)


class EndpointFailure(TransientError):
    """The endpoint, not the request, failed (dropped connection, 502/503/504): another one may answer."""


class EndpointStalled(EndpointFailure):
    """The server sent nothing for `stall_timeout` seconds: treated like a dropped connection."""


class SchemaFormatRefused(BackendError):
    """The server refused `response_format` json_schema (llama_cpp.server takes only json_object + schema)."""


class RateLimited(EndpointFailure):
    """429: the server asked to wait `retry_after` seconds (None: it did not say)."""

    def __init__(self, message: str, *, retry_after: float | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after


def normalise_base_url(text: str) -> str:
    """`http://host:8000` and `http://host:8000/v1/` both mean `http://host:8000/v1` (the API's root)."""
    url = text.strip().rstrip("/")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        raise UsageError(f"not a URL: {shown(url)!r}", hint="e.g. --base-url http://127.0.0.1:8000/v1") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"not an http(s) URL: {shown(url)!r}", hint="e.g. --base-url http://127.0.0.1:8000/v1")
    if parsed.path in ("", "/"):
        url += "/v1"
    return url


def shown(url: str) -> str:
    """The URL for people: without a user:password part."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "(a URL)"
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url


class OpenAIClient:
    """A connection pool to one server at `base_url` (ending in /v1)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
        stall_timeout: float = STALL_TIMEOUT,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.stall_timeout = stall_timeout
        self.where = shown(self.base_url)
        self._key = api_key  # only to keep it out of what a server says back (some echo it)
        url = httpx.URL(self.base_url)
        headers = {"User-Agent": f"mcv/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        loopback = (url.host or "") in _LOOPBACK_HOSTS or (url.host or "").startswith("127.")
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            headers=headers,
            # Read/write: the longest silence (per socket operation, so a long answer that keeps
            # streaming never times out); generous, as an answer may wait long in a busy queue.
            timeout=httpx.Timeout(stall_timeout, connect=connect_timeout, pool=None),
            verify=url.scheme == "https",
            trust_env=not loopback,  # never a proxy for a server on this machine
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"OpenAIClient({self.where!r})"

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[dict[str, Any]]:
        """The entries of GET /models (each has at least an `id`)."""
        try:
            response = self._http.get("models")
        except httpx.HTTPError as err:
            raise self._transport_error(err, sent=False) from None
        if response.status_code != 200:
            raise self._status_error(response, model=None)
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            data = None
        if not isinstance(data, list):
            raise BackendError(f"{self.where}/models did not answer an OpenAI model list")
        return [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]

    def chat(self, payload: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """POST /chat/completions. Streaming: each SSE event's JSON, up to `data: [DONE]`;
        otherwise the one response object. Closing the generator closes the connection,
        which is how the server learns to stop generating."""
        model = payload.get("model")
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        request = self._http.build_request(
            "POST", "chat/completions", content=body, headers={"Content-Type": "application/json"}
        )
        try:
            response = self._http.send(request, stream=True)
        except httpx.HTTPError as err:
            raise self._transport_error(err, sent=False) from None
        try:
            if response.status_code != 200:
                response.read()
                raise self._status_error(response, model=model)
            if not payload.get("stream"):
                try:
                    response.read()
                    yield response.json()
                except httpx.HTTPError as err:
                    raise self._transport_error(err, sent=True) from None
                except ValueError:
                    raise BackendError(f"{self.where} answered something that is not JSON") from None
                return
            try:
                for kind, data in sse_data(response.iter_lines()):
                    if data == "[DONE]":
                        return
                    try:
                        event = json.loads(data)
                    except ValueError:
                        if kind == "error":
                            raise StreamError(f"{self.where}: {self._unkeyed(' '.join(data.split())[:300])}") from None
                        raise StreamError(f"{self.where} sent an event that is not JSON") from None
                    if kind == "error" or (isinstance(event, dict) and (event.get("error") is not None or event.get("object") == "error")):
                        raise StreamError(f"{self.where}: {self._unkeyed(error_message(event) or 'error in the answer')}")
                    if not isinstance(event, dict):
                        raise StreamError(f"{self.where} sent an event that is not a JSON object")
                    yield event
            except httpx.HTTPError as err:
                raise self._transport_error(err, sent=True) from None
            raise EndpointFailure(f"{self.where} ended the answer without [DONE] (the connection dropped)")
        finally:
            response.close()

    def _unkeyed(self, said: str) -> str:
        """What the server said, without the API key (a server may quote the key it refused)."""
        return said.replace(self._key, "(the API key)") if self._key else said

    def _transport_error(self, err: httpx.HTTPError, *, sent: bool):
        if isinstance(err, (httpx.ConnectError, httpx.ConnectTimeout)) and not sent:
            return ServerUnavailable(
                f"nothing answers at {self.where}",
                hint="start the server (see `Scaling out` in the README), or give its URL with --base-url",
            )
        if isinstance(err, (httpx.ReadTimeout, httpx.WriteTimeout)):
            return EndpointStalled(
                f"{self.where} stalled: nothing from it for {self.stall_timeout:g} s (stopped, or its machine unreachable?)",
                hint="if it is only busy, raise the limit: `mcv config set openai.stall_timeout SECONDS` (MCV_OPENAI_STALL_TIMEOUT)",
            )
        return EndpointFailure(f"the connection to {self.where} dropped ({type(err).__name__})")

    def _status_error(self, response: httpx.Response, *, model: Any):
        status = response.status_code
        said = error_message(_json_or_none(response)) or response.reason_phrase or "error"
        said = self._unkeyed(" ".join(said.split("\n\n")[0].split())[:300])  # one line (llama_cpp.server adds a traceback)
        if status == 429:
            return RateLimited(
                f"{self.where} is rate limiting (429): {said}", retry_after=retry_after(response.headers.get("retry-after"))
            )
        if status in (502, 503, 504):
            return EndpointFailure(f"{self.where} answered {status}: {said}")
        if status in (401, 403):
            return BackendError(
                f"{self.where} refused the request ({status}): {said}",
                hint="set the server's API key in OPENAI_API_KEY (or `mcv config set openai.api_key ...`)",
            )
        if status in (400, 422, 500) and "response_format" in said and "json_schema" in said:
            return SchemaFormatRefused(f"{self.where} answered {status}: {said}")
        if status == 404 and model and str(model) in said:
            return ModelNotFound(f"{self.where}: {said}", hint="see the server's models: `curl " + self.where + "/models`")
        return BackendError(f"{self.where} answered {status}: {said}")


def sse_data(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(type, data) of each server-sent event, per the SSE spec: its `data:` lines joined by newlines,
    its type from an `event:` line ("message" without one); an event ends at a blank line, comments
    (`:`) and other fields are skipped, and an event the stream cut off before its blank line is
    dropped (only a bare `[DONE]` is taken). llama-server reports an error as an `error: {json}`
    line of its own: that is an event of type "error"."""
    data: list[str] = []
    kind = "message"
    for line in lines:
        line = line.rstrip("\r\n")
        if not line:
            if data:
                yield kind, "\n".join(data)
            data, kind = [], "message"
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            data.append(value)
        elif name == "event":
            kind = value or "message"
        elif name == "error":
            kind = "error"
            data.append(value)
    if data == ["[DONE]"]:  # the end, without its blank line
        yield kind, "[DONE]"


def error_message(document: Any) -> str | None:
    """The message of an error object: OpenAI's {"error": {"message"}}, vLLM's {"object": "error",
    "message"}, a plain {"error": "text"}, FastAPI's {"detail": ...}."""
    if not isinstance(document, dict):
        return None
    error = document.get("error")
    if isinstance(error, dict) and isinstance(error.get("message"), str):
        return error["message"]
    if isinstance(error, str):
        return error
    if isinstance(document.get("message"), str):
        return document["message"]
    detail = document.get("detail")
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        first = detail[0]
        where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
        return f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid"))
    return None


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
