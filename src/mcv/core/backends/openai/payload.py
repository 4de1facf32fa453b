"""A `ChatRequest` as an OpenAI chat-completions body, and the answer's pieces back as mcv's.

Images always go as base64 `data:` URLs in `image_url` content parts, before
the message's text (Ollama's /v1 takes nothing else; vLLM and llama-server
take them too), so every endpoint gets identical bytes. Options are mapped to
their OpenAI names; the ones the API has no name for are not offered
(`OPTIONS`: the session refuses the others before sending). `keep_alive`
has no OpenAI field (servers keep their model loaded) and is not sent.
"""

from __future__ import annotations

from typing import Any, Mapping

from mcv.core.backends.base import ChatRequest, Metrics

# mcv's option name (Ollama's) -> the chat-completions field.
OPTIONS: dict[str, str] = {
    "temperature": "temperature",
    "top_p": "top_p",
    "seed": "seed",
    "num_predict": "max_tokens",
    "stop": "stop",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
}


def build_payload(request: ChatRequest, model: str) -> dict[str, Any]:
    """The /chat/completions JSON for `request`, asking `model` (the id the server lists)."""
    parameters = request.parameters
    messages: list[dict[str, Any]] = []
    for message in request.messages:
        content: Any = message.content
        if message.images:
            content = [{"type": "image_url", "image_url": {"url": image.data_url()}} for image in message.images]
            if message.content:
                content.append({"type": "text", "text": message.content})
        messages.append({"role": message.role, "content": content})
    payload: dict[str, Any] = {"model": model, "messages": messages, "stream": parameters.stream}
    if parameters.stream:
        payload["stream_options"] = {"include_usage": True}  # the token counts, in a last chunk
    for name, value in parameters.options.items():
        field = OPTIONS[name]  # the session has refused any other (Capabilities.options)
        if name == "num_predict" and value < 0:
            continue  # -1/-2 (no limit) is the API's default when max_tokens is left out
        payload[field] = list(value) if isinstance(value, tuple) else value
    if parameters.format == "json":
        payload["response_format"] = {"type": "json_object"}
    elif isinstance(parameters.format, dict):
        payload["response_format"] = {"type": "json_schema", "json_schema": {"name": "answer", "schema": parameters.format}}
    return payload


def delta_of(event: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(text, thinking, finish_reason) of one streamed chunk. Thinking is vLLM's and llama-server's
    `reasoning_content` (or `reasoning`), when the server splits it out."""
    choices = event.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return "", "", None
    choice = choices[0]
    delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else choice.get("message")
    delta = delta if isinstance(delta, dict) else {}
    thinking = delta.get("reasoning_content") or delta.get("reasoning")
    finish = choice.get("finish_reason")
    return _str(delta.get("content")), _str(thinking), finish if isinstance(finish, str) and finish else None


def metrics_of(usage: Any, *, started: float, first_text: float | None, ended: float) -> Metrics:
    """Usage (token counts) plus the times measured here: total from sending to the end, prompt from
    sending to the first text, generation from the first text to the end (monotonic seconds in)."""
    usage = usage if isinstance(usage, dict) else {}
    first = first_text if first_text is not None else ended
    return Metrics(
        prompt_eval_count=_int(usage.get("prompt_tokens")),
        prompt_eval_duration_ns=int((first - started) * 1e9),
        eval_count=_int(usage.get("completion_tokens")),
        eval_duration_ns=int((ended - first) * 1e9) if first_text is not None else None,
        total_duration_ns=int((ended - started) * 1e9),
    )


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
