"""Chat prompts for the in-process backend, rendered from a generation record.

A prompt is a list of parts: template text (control tokens parsed), message
text (parsed as plain text, so a user typing "<|eot_id|>" cannot end a turn)
and images. Images go where mtmd's media marker would: in front of the text of
their message, one per line, like HF's `(<image>./</image>)\\n` and Ollama's
`[img-N]`. The BOS token is never written here; tokenisation adds it once
when the vocabulary asks for it (native.NativeModel.tokenize).
"""

from __future__ import annotations

from typing import Sequence

from mcv.core.backends.base import Message
from mcv.core.backends.llama.native import ImagePart, PromptPart, TextPart
from mcv.errors import InputError

# Qwen3's enable_thinking=False: an empty think block prefilled in the answer.
EMPTY_THINK = "<think>\n\n</think>\n\n"


def thinking_capable(generation) -> bool:
    return generation.thinking != "none"


def render(messages: Sequence[Message], generation, *, think: bool = False) -> list[PromptPart]:
    """The parts of the prompt that asks the model for the next assistant turn."""
    if not messages:
        raise InputError("a chat request needs at least one message")
    if generation.chat_format == "llama3":
        return _render_llama3(messages)
    if generation.chat_format == "chatml":
        return _render_chatml(messages, generation, think=think and thinking_capable(generation))
    raise InputError(f"no prompt format for chat_format {generation.chat_format!r}")


def _body(message: Message, *, strip: bool) -> list[PromptPart]:
    parts: list[PromptPart] = []
    for image in message.images:
        parts.append(ImagePart(image))
        parts.append(TextPart("\n"))
    content = message.content.strip() if strip else message.content
    if content:
        parts.append(TextPart(content, special=False))
    return parts


def _render_llama3(messages: Sequence[Message]) -> list[PromptPart]:
    # Llama-3-Instruct: <|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>
    parts: list[PromptPart] = []
    for index, message in enumerate(messages):
        parts.append(TextPart(f"<|start_header_id|>{message.role}<|end_header_id|>\n\n"))
        parts.extend(_body(message, strip=True))
        if _is_open_answer(messages, index):
            return parts  # a trailing assistant message is continued, not closed
        parts.append(TextPart("<|eot_id|>"))
    parts.append(TextPart("<|start_header_id|>assistant<|end_header_id|>\n\n"))
    return parts


def _render_chatml(messages: Sequence[Message], generation, *, think: bool) -> list[PromptPart]:
    parts: list[PromptPart] = []
    if messages[0].role != "system" and generation.system:
        parts.append(TextPart(f"<|im_start|>system\n{generation.system}<|im_end|>\n"))
    for index, message in enumerate(messages):
        parts.append(TextPart(f"<|im_start|>{message.role}\n"))
        parts.extend(_body(message, strip=False))
        if _is_open_answer(messages, index):
            return parts
        parts.append(TextPart("<|im_end|>\n"))
    parts.append(TextPart("<|im_start|>assistant\n"))
    if thinking_capable(generation) and not think:
        parts.append(TextPart(EMPTY_THINK))
    return parts


def _is_open_answer(messages: Sequence[Message], index: int) -> bool:
    return index == len(messages) - 1 and messages[index].role == "assistant"


def as_text(parts: Sequence[PromptPart], marker: str = "<__media__>") -> str:
    """The prompt as one string with the media marker for each image (for logs and tests)."""
    return "".join(part.text if isinstance(part, TextPart) else marker for part in parts)
