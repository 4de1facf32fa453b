"""OllamaBackend: the Backend protocol over the Ollama daemon's /api/chat.

Requests become /api/chat payloads (images as bare base64; options, format,
keep_alive and think only when set; `stream` exactly as the request says);
the NDJSON stream becomes `Chunk`s whose last one carries `done_reason` and
the `Metrics` (Ollama omits zero fields, so missing stays None).

`open_backend` is the registry's entry: it reaches the daemon and makes sure
it has the model, so that "not running" and "no such model" are told apart
(and the second lists the vision models the daemon does have).
"""

from __future__ import annotations

import os
from typing import Any, Iterator, Mapping

from mcv.core.backends.base import Capabilities, ChatRequest, Chunk, Metrics
from mcv.core.ollama.client import OllamaClient, capability_names
from mcv.modelfile.generations import ollama_message_content
from mcv.errors import BackendError, McvError, ModelNotFound, StreamError

NAME = "ollama"
GET_MODEL_HINT = "get it with `mcv model pull {model}`, or make it from GGUF files with `mcv model create {model} LLM.gguf MMPROJ.gguf`"


def open_backend(settings, model: str) -> "OllamaBackend":
    """The daemon at the configured host, known to have `model`.

    ServerUnavailable when nothing answers there; ModelNotFound (naming the
    vision models it has) when the daemon lacks the model.
    """
    hosts = settings.ollama_hosts()
    if len(hosts) > 1:  # several daemons, one engine: requests spread over them
        from mcv.core.backends.ollama_pool import open_pooled

        return open_pooled(settings, hosts, model)
    client = OllamaClient(hosts[0], environ=settings.environ)
    backend = OllamaBackend(client, default_num_ctx=default_context(settings.environ))
    try:
        backend.capabilities(model)
    except BaseException:
        backend.close()
        raise
    return backend


class OllamaBackend:
    name = NAME
    pair = None  # answers from the daemon's models, not from local files

    def __init__(self, client: OllamaClient, *, default_num_ctx: int = 0) -> None:
        self.client = client
        self.default_num_ctx = default_num_ctx or OLLAMA_DEFAULT_NUM_CTX
        self._caps: dict[str, Capabilities] = {}

    @property
    def where(self) -> str:
        return f"Ollama at {self.client.base_url}"

    def capabilities(self, model: str) -> Capabilities:
        """What Ollama's /api/show lists for `model` (asked once)."""
        if model not in self._caps:
            try:
                info = self.client.show(model)
            except ModelNotFound:
                raise self._not_found(model) from None
            listed = capability_names(info)
            self._caps[model] = Capabilities(
                vision="vision" in listed,
                thinking="thinking" in listed,
                num_ctx=context_size(info, self.default_num_ctx),
                tokens_per_slice=96 if _minicpmv_version(info) == 2 else 64,
            )
        return self._caps[model]

    def loaded_context(self, model: str) -> int | None:
        """The context Ollama runs `model` with while it is loaded (/api/ps `context_length`); None when
        it is not loaded, the daemon does not say (before 0.6.6), or cannot be asked."""
        from mcv.core.ollama.names import same_model

        try:
            running = self.client.ps()
        except McvError:
            return None
        for entry in running:
            name = str(entry.get("name") or entry.get("model") or "")
            size = entry.get("context_length")
            if same_model(name, model) and isinstance(size, int) and not isinstance(size, bool) and size > 0:
                return size
        return None

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        """The stream of chunks (the session has checked the request against
        `capabilities`). Close it (or let it finish) to release the
        connection; closing it early cancels the generation on the daemon."""
        return self._chunks(build_chat_payload(request))

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "OllamaBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _not_found(self, model: str) -> ModelNotFound:
        """The daemon runs but lacks `model`: say so, with what it has instead."""
        try:
            vision = self.client.vision_models()
        except McvError:
            vision = []
        has = f"; its vision models: {', '.join(vision)}" if vision else "; it has no vision model yet"
        hint = GET_MODEL_HINT.format(model=model)
        if os.path.isdir(model):  # meant the folder? A path must say so (core/local_pairs.py)
            hint = f"to run the GGUF pair in the folder '{model}', write it as ./{model}/; or {hint}"
        return ModelNotFound(f"model '{model}' is not in {self.where}{has}", hint=hint)

    def _chunks(self, payload: dict, client: OllamaClient | None = None) -> Iterator[Chunk]:
        text: list[str] = []
        lines = 0
        stream = (client or self.client).chat(payload)
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
            raise StreamError(err.message, partial="".join(text), hint=err.hint, transient=err.transient) from None
        except BackendError as err:
            if lines == 0:
                raise  # failed before the answer started: not a stream error
            raise StreamError(err.message, partial="".join(text), hint=err.hint, transient=err.transient) from None
        finally:
            stream.close()
        raise StreamError("Ollama ended the answer before it was done", partial="".join(text))


def build_chat_payload(request: ChatRequest) -> dict[str, Any]:
    """The /api/chat JSON for a request (fields Ollama would ignore are left out)."""
    parameters = request.parameters
    messages = []
    for message in request.messages:
        # One "[img]" per image before the text: Ollama swaps each for its image
        # marker in place (server/prompt.go), so the model sees the layout it was
        # trained on, the same one the in-process engine renders.
        content = ollama_message_content(message.content, len(message.images))
        entry: dict[str, Any] = {"role": message.role, "content": content}
        if message.images:
            entry["images"] = [image.b64() for image in message.images]
        messages.append(entry)
    payload: dict[str, Any] = {"model": parameters.model, "messages": messages, "stream": parameters.stream}
    if parameters.options:
        payload["options"] = {k: list(v) if isinstance(v, tuple) else v for k, v in parameters.options.items()}
    if parameters.format is not None:
        payload["format"] = parameters.format
    if parameters.keep_alive is not None:
        payload["keep_alive"] = parameters.keep_alive
    if parameters.think is not None:
        payload["think"] = parameters.think
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


# Ollama's default context below 24 GiB of VRAM (docs/context-length.mdx); the
# daemon may use more on a large GPU, which only makes a warning early. Once the
# model is loaded, /api/ps says what it really runs with (`loaded_context`).
OLLAMA_DEFAULT_NUM_CTX = 4096


def num_parallel(environ: Mapping[str, str]) -> int:
    """Requests a daemon answers at once: OLLAMA_NUM_PARALLEL (default 1 since v0.10), which the
    API does not report; read from this environment, where `ollama serve` usually gets it too."""
    text = (environ.get("OLLAMA_NUM_PARALLEL") or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 1


def default_context(environ: Mapping[str, str]) -> int:
    """OLLAMA_CONTEXT_LENGTH, which sets the daemon's default context: read from mcv's own
    environment, a good guess when the daemon runs in the same one (0: not set)."""
    text = (environ.get("OLLAMA_CONTEXT_LENGTH") or "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 0


def context_size(info: Mapping[str, Any], default: int = OLLAMA_DEFAULT_NUM_CTX) -> int:
    """The num_ctx Ollama runs a model with when the request sets none: the Modelfile's
    PARAMETER num_ctx or the daemon's default, clamped to the training context."""
    size = default
    for line in str(info.get("parameters") or "").splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "num_ctx" and words[1].isdigit():
            size = int(words[1])
    model_info = info.get("model_info") or {}
    trained = [v for k, v in model_info.items() if k.endswith(".context_length") and isinstance(v, int)]
    return min([size, *trained]) if trained else size


def _minicpmv_version(info: Mapping[str, Any]) -> int | None:
    """clip.minicpmv_version of the projector: 2 is MiniCPM-Llama3-V 2.5 (96 embeddings a slice)."""
    version = (info.get("projector_info") or {}).get("clip.minicpmv_version")
    return version if isinstance(version, int) and not isinstance(version, bool) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return int(value)


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
