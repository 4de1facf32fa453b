"""The text forms every surface accepts, turned into core values.

`IMAGE... [PROMPT]` word lists, `KEY=VALUE` options, keep-alive durations
and `--schema` arguments mean the same on the command line, in chat
commands and in editor or desktop integrations, so they are parsed here once.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from mcv.core.images.types import ImageSource
from mcv.errors import InputError, UsageError


def split_arguments(arguments: Sequence[str], prompt: str | None = None) -> tuple[list[ImageSource], str | None]:
    """`IMAGE... [PROMPT]`: what names a file, a URL or `-` is an image; the rest is the prompt.

    Words left over are joined, so `mcv ask receipt.jpg read the total` works
    unquoted. A word that looks like an image path but names no file is an
    error rather than silently becoming part of the prompt.

    With `prompt` given apart (`--prompt TEXT`: what editors pass), every
    argument is an image, so a question that happens to name a file or a URL
    stays a question, and a word that is no image is an error.
    """
    from mcv.core.images.sources import looks_like_image_path, parse_image_arg

    sources: list[ImageSource] = []
    words: list[str] = []
    if prompt is not None:
        if not prompt.strip():
            raise UsageError("--prompt is empty: give the question, or leave --prompt out")
        for argument in arguments:
            source = parse_image_arg(argument)
            if source is None:
                raise InputError(f"{argument}: no such file", hint="with --prompt, every argument is an image")
            sources.append(source)
        prompt, arguments = prompt.strip(), ()
    for argument in arguments:
        source = parse_image_arg(argument) if not words else None
        if source is not None:
            sources.append(source)
            continue
        if not words and looks_like_image_path(argument):
            raise InputError(f"{argument}: no such file")
        words.append(argument)
    if sum(1 for source in sources if source.kind == "stdin") > 1:
        raise UsageError("'-' (standard input) can be given only once")
    if prompt is None:
        prompt = " ".join(words).strip() or None
    return sources, prompt


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


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """Repeated --option KEY=VALUE -> options (stop values accumulate); names and
    types are checked when they become Parameters."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, value = parse_option(pair)
        if key == "stop":
            options.setdefault("stop", []).extend(value)
        else:
            options[key] = value
    return options


def parse_keep_alive(text: str | None) -> str | int | None:
    """Ollama takes a number of seconds or a Go duration string ("5m", "-1")."""
    from mcv.core.config import keep_alive_text

    if text is None:
        return None
    try:
        checked = keep_alive_text(text)
    except ValueError as err:
        raise UsageError(f"--keep-alive {err}") from None
    try:
        return int(checked)
    except ValueError:
        return checked


def load_schema(text: str) -> dict[str, Any] | str:
    """--schema: inline JSON, a JSON file, `llm`'s shorthand ("merchant, total float"), or `json`
    (core/schema.py); the schema itself is checked against its draft."""
    from mcv.core.schema import parse_schema

    return parse_schema(text)
