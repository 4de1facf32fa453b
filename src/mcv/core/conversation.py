"""Turning what a user asked into ChatRequests; later also the chat history.

Kept free of I/O so every surface (ask, chat UI, plugins, MCP) builds the
same request from the same inputs.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from mcv.core.backends.base import ChatRequest, Message
from mcv.errors import UsageError
from mcv.core.images.types import PreparedImage
from mcv.core.options import check_options

DEFAULT_PROMPT_ONE = "Describe this image."
DEFAULT_PROMPT_MANY = "Describe these images."

def default_prompt(image_count: int) -> str:
    return DEFAULT_PROMPT_MANY if image_count > 1 else DEFAULT_PROMPT_ONE


def parse_option(text: str) -> tuple[str, Any]:
    """`KEY=VALUE` with VALUE read as JSON when it parses (numbers, true, lists)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(f"--option expects KEY=VALUE, got {text!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    if key == "stop":
        # Repeated --option stop=X accumulate; a single one is still a list.
        value = value if isinstance(value, list) else [str(value)]
    return key, value


def merge_options(pairs: Sequence[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, value = parse_option(pair)
        if key == "stop":
            options.setdefault("stop", []).extend(value)
        else:
            options[key] = value
    check_options(options)
    return options


def build_request(
    *,
    model: str,
    prompt: str | None,
    images: Sequence[PreparedImage],
    system: str | None = None,
    options: dict[str, Any] | None = None,
    format: str | dict[str, Any] | None = None,
    keep_alive: str | int | None = None,
    think: bool | None = None,
    stream: bool = True,
) -> ChatRequest:
    messages: list[Message] = []
    if system:
        messages.append(Message(role="system", content=system))
    text = prompt if prompt else default_prompt(len(images))
    messages.append(Message(role="user", content=text, images=tuple(images)))
    return ChatRequest(
        model=model,
        messages=messages,
        options=dict(options or {}),
        format=format,
        keep_alive=keep_alive,
        think=think,
        stream=stream,
    )


def parse_keep_alive(text: str | None) -> str | int | None:
    """Ollama takes a number of seconds or a Go duration string ("5m", "-1")."""
    if text is None:
        return None
    stripped = text.strip()
    try:
        return int(stripped)
    except ValueError:
        pass
    import re

    if not re.fullmatch(r"-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+", stripped):
        raise UsageError(f"--keep-alive expects seconds or a duration like 5m or 1h, got {text!r}")
    return stripped


def load_schema(text: str) -> dict[str, Any] | str:
    """--schema: inline JSON, a path to a JSON file, or the word `json`."""
    if text == "json":
        return "json"
    from pathlib import Path

    source = text
    candidate = Path(text).expanduser()
    if not text.lstrip().startswith("{") and candidate.is_file():
        try:
            source = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read schema file {text}: {err}") from None
    try:
        schema = json.loads(source)
    except ValueError as err:
        raise UsageError(f"--schema is neither JSON nor a readable JSON file: {err}") from None
    if not isinstance(schema, dict):
        raise UsageError("--schema must be a JSON object (a JSON schema)")
    return schema
