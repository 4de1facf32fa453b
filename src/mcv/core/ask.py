"""One question about one or more images, independent of any surface.

The CLI, the chat UI, file-manager actions and the MCP server all go
through here: split arguments into images and prompt, check the model can
see, prepare the images, stream the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator, Sequence

from mcv.core.backends.base import Backend, Capabilities, Chunk
from mcv.core.conversation import build_request
from mcv.errors import CapabilityError, InputError, UsageError
from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings


@dataclass
class Question:
    sources: list[ImageSource]
    prompt: str | None
    model: str
    system: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    format: str | dict[str, Any] | None = None
    keep_alive: str | int | None = None
    think: bool | None = None
    stream: bool = True


def split_arguments(arguments: Sequence[str]) -> tuple[list[ImageSource], str | None]:
    """`IMAGE... [PROMPT]`: what names a file, a URL or `-` is an image; the rest is the prompt.

    Words left over are joined, so `mcv ask receipt.jpg read the total` works
    unquoted. A word that looks like an image path but names no file is an
    error rather than silently becoming part of the prompt.
    """
    from mcv.core.images.sources import looks_like_image_path, parse_image_arg

    sources: list[ImageSource] = []
    words: list[str] = []
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
    prompt = " ".join(words).strip() or None
    return sources, prompt


def check_vision(backend: Backend, model: str, image_count: int) -> Capabilities:
    """Refuse before any image is decoded or sent when the model cannot see."""
    capabilities = backend.capabilities(model)
    if image_count and not capabilities.vision:
        raise CapabilityError(
            f"model '{model}' has no vision capability, so it cannot look at images",
            hint="use a vision model (e.g. -m minicpm-v), or package one with `mcv model create`",
        )
    return capabilities


def effective_think(capabilities: Capabilities, requested: bool | None) -> bool | None:
    """Thinking is off unless asked for.

    Ollama turns thinking on by default for a model that can think (MiniCPM-V
    4.5); mcv's default is a direct answer, so it says `think: false`
    explicitly. Models that cannot think are sent nothing (Ollama answers
    400 to any `think` for them).
    """
    if requested is None and capabilities.thinking:
        return False
    return requested


def prepare_images(
    sources: Sequence[ImageSource], settings: PrepareSettings, stdin: BinaryIO | None = None
) -> list[PreparedImage]:
    from mcv.core.images.prepare import prepare

    images: list[PreparedImage] = []
    for source in sources:
        images.extend(prepare(source, settings, stdin=stdin))
    return images


def stream_answer(backend: Backend, question: Question, images: Sequence[PreparedImage]) -> Iterator[Chunk]:
    request = build_request(
        model=question.model,
        prompt=question.prompt,
        images=images,
        system=question.system,
        options=question.options,
        format=question.format,
        keep_alive=question.keep_alive,
        think=question.think,
        stream=question.stream,
    )
    return backend.chat(request)
