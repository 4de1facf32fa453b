"""OllamaBackend: the Backend protocol over the Ollama daemon's /api/chat.

Requests become /api/chat payloads (system prompt as a `system` message,
images as bare base64, options/format/keep_alive/think only when set); the
NDJSON stream becomes `Chunk`s whose last one carries `done_reason` and the
`Metrics` (Ollama omits zero fields, so missing stays None). A model without
the `vision` capability is refused before any image is sent.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

from mcv.core.backends.base import Capabilities, Chunk, ChatRequest, Metrics
from mcv.errors import BackendError, CapabilityError, StreamError, UsageError
from mcv.core.ollama.client import OllamaClient
from mcv.core.options import check_options


class OllamaBackend:
    name = "ollama"

    def __init__(self, client: OllamaClient, *, stream: bool = True, own_client: bool = True) -> None:
        self.client = client
        self.stream = stream
        self._own_client = own_client
        self._caps: dict[str, tuple[Capabilities, frozenset[str]]] = {}

    @classmethod
    def from_environment(
        cls,
        environ: Mapping[str, str],
        *,
        host: str | None = None,
        config_host: str | None = None,
        stream: bool = True,
        **client_kwargs: Any,
    ) -> "OllamaBackend":
        client = OllamaClient.from_environment(
            environ, flag=host, config_host=config_host, **client_kwargs
        )
        return cls(client, stream=stream)

    def capabilities(self, model: str) -> Capabilities:
        return self._capabilities(model)[0]

    def chat(self, request: ChatRequest, *, stream: bool | None = None) -> Iterator[Chunk]:
        """Check the request, then return the stream of chunks.

        Refusals (unknown option, no vision, no thinking) are raised here,
        before anything is sent to /api/chat. Close the returned iterator (or
        let it finish) to release the connection; closing it early cancels
        the generation on the daemon.
        """
        payload = build_chat_payload(request, stream=self.stream if stream is None else stream)
        wants_images = any(m.images for m in request.messages)
        if wants_images or request.think:
            caps, listed = self._capabilities(request.model)
            if wants_images and not caps.vision:
                raise CapabilityError(
                    f"model '{request.model}' has no vision capability"
                    f" (Ollama lists: {', '.join(sorted(listed)) or 'nothing'})",
                    hint="use a vision model (e.g. `minicpm-v`) or build one with `mcv model create`",
                )
            if request.think and not caps.thinking:
                raise CapabilityError(
                    f"model '{request.model}' has no thinking capability",
                    hint="leave out --think for this model",
                )
        return self._chunks(payload)

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def _capabilities(self, model: str) -> tuple[Capabilities, frozenset[str]]:
        if model not in self._caps:
            listed = frozenset(self.client.capabilities(model))
            caps = Capabilities(
                vision="vision" in listed,
                thinking="thinking" in listed,
                json_schema=True,
                streaming=True,
                in_process=False,
            )
            self._caps[model] = (caps, listed)
        return self._caps[model]

    def _chunks(self, payload: dict) -> Iterator[Chunk]:
        text: list[str] = []
        lines = 0
        stream = self.client.chat(payload)
        try:
            for obj in stream:
                lines += 1
                message = obj.get("message") or {}
                content = _str(message.get("content"))
                thinking = _str(message.get("thinking"))
                if content or thinking:
                    text.append(content)
                    yield Chunk(text=content, thinking=thinking)
                if obj.get("done"):
                    yield Chunk(
                        done=True,
                        done_reason=obj.get("done_reason") or None,
                        metrics=parse_metrics(obj),
                    )
                    return
        except StreamError as err:
            raise StreamError(err.message, partial="".join(text), hint=err.hint) from None
        except BackendError as err:
            if lines == 0:
                raise  # failed before the answer started: not a stream error
            raise StreamError(err.message, partial="".join(text), hint=err.hint) from None
        finally:
            stream.close()
        raise StreamError("Ollama ended the answer before it was done", partial="".join(text))


def build_chat_payload(request: ChatRequest, *, stream: bool = True) -> dict[str, Any]:
    """The /api/chat JSON for a request (fields Ollama would ignore are left out)."""
    check_options(request.options)
    if not (request.format is None or request.format == "json" or isinstance(request.format, dict)):
        raise UsageError(f"format must be \"json\" or a JSON schema object, not {request.format!r}")
    messages = []
    for message in request.messages:
        entry: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.images:
            entry["images"] = [image.b64() for image in message.images]
        messages.append(entry)
    payload: dict[str, Any] = {"model": request.model, "messages": messages, "stream": stream}
    if request.options:
        payload["options"] = {
            k: list(v) if isinstance(v, tuple) else v for k, v in request.options.items()
        }
    if request.format is not None:
        payload["format"] = request.format
    if request.keep_alive is not None:
        payload["keep_alive"] = request.keep_alive
    if request.think is not None:
        payload["think"] = request.think
    return payload


def parse_metrics(final: Mapping[str, Any]) -> Metrics:
    """Metrics from the final line; a field Ollama left out stays None."""
    return Metrics(
        prompt_eval_count=_int(final.get("prompt_eval_count")),
        prompt_eval_duration_ns=_int(final.get("prompt_eval_duration")),
        eval_count=_int(final.get("eval_count")),
        eval_duration_ns=_int(final.get("eval_duration")),
        total_duration_ns=_int(final.get("total_duration")),
        load_duration_ns=_int(final.get("load_duration")),
    )


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
