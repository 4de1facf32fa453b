"""Chat prompts for the in-process backend, rendered from a generation record.

A prompt is a list of parts: template text (control tokens parsed), message
text (parsed as plain text, so a user typing "<|eot_id|>" cannot end a turn)
and images. It is the prompt Ollama builds from the same conversation with the
record's Modelfile TEMPLATE (tests/modelfile/test_two_renderers.py compares
them), so both engines see the same text:

- the record's default system prompt is added when the conversation does not
  start with a system message (ollama/ollama server/routes.go ChatHandler);
- consecutive messages of one role are merged into one turn, joined with
  "\\n\\n" (ollama/ollama template/template.go collate);
- a message's images come before its text, pieces joined with "\\n"
  (generations.lay_out_message, MiniCPM-V's own chat() layout);
- a trailing assistant message is continued, not closed;
- every new answer starts with the record's `answer_prefix`, and a
  "qwen3-hybrid" record's answer with the empty think block while thinking
  is off.

The BOS token is never written here; tokenisation adds it once when the
vocabulary asks for it (native.NativeModel.tokenize), as llama-server does for
Ollama's prompt.
"""

from __future__ import annotations

from typing import Sequence

from mcv.core.backends.base import Message
from mcv.core.backends.llama.native import ImagePart, PromptPart, TextPart
from mcv.errors import InputError
from mcv.modelfile.generations import EMPTY_THINK_BLOCK, lay_out_message

EMPTY_THINK = EMPTY_THINK_BLOCK  # the name tests/core/test_llama_backend.py imports

_TURN_SEPARATOR = "\n\n"  # Ollama's collate() joins same-role messages with it


def thinking_capable(generation) -> bool:
    return generation.thinking != "none"


def render(messages: Sequence[Message], generation, *, think: bool = False) -> list[PromptPart]:
    """The parts of the prompt that asks the model for the next assistant turn."""
    if not messages:
        raise InputError("a chat request needs at least one message")
    if messages[0].role != "system" and generation.system:
        messages = [Message("system", generation.system), *messages]
    turns = _collate(messages)
    if generation.chat_format == "llama3":
        return _render_llama3(turns, generation)
    if generation.chat_format == "chatml":
        return _render_chatml(turns, generation, think=think and thinking_capable(generation))
    raise InputError(f"no prompt format for chat_format {generation.chat_format!r}")


def _collate(messages: Sequence[Message]) -> list[tuple[str, list[PromptPart]]]:
    """(role, body parts) per turn; a message's body is laid out as MiniCPM-V's
    chat() does, and a run of same-role messages becomes one turn."""
    turns: list[tuple[str, list]] = []
    for message in messages:
        pieces = lay_out_message(message.content, message.images)
        if turns and turns[-1][0] == message.role:
            turns[-1][1].extend([_TURN_SEPARATOR, *pieces])
        else:
            turns.append((message.role, pieces))
    return [(role, _as_parts(pieces)) for role, pieces in turns]


def _as_parts(pieces: list) -> list[PromptPart]:
    """Images as ImageParts; adjacent text as one plain-text part (one run of
    text is tokenised in one go, as llama-server tokenises Ollama's prompt)."""
    parts: list[PromptPart] = []
    for piece in pieces:
        if isinstance(piece, str):
            if parts and isinstance(parts[-1], TextPart):
                parts[-1] = TextPart(parts[-1].text + piece, special=False)
            elif piece:
                parts.append(TextPart(piece, special=False))
        else:
            parts.append(ImagePart(piece))
    return parts


def _trimmed(body: list[PromptPart]) -> list[PromptPart]:
    """Llama-3-Instruct's `content | trim`: outer whitespace of the whole turn
    (an image at either end stops it, as the image placeholder would in HF)."""
    body = list(body)
    if body and isinstance(body[0], TextPart):
        body[0] = TextPart(body[0].text.lstrip(), special=False)
    if body and isinstance(body[-1], TextPart):
        body[-1] = TextPart(body[-1].text.rstrip(), special=False)
    return [part for part in body if not (isinstance(part, TextPart) and not part.text)]


def _render_llama3(turns, generation) -> list[PromptPart]:
    # Llama-3-Instruct: <|start_header_id|>{role}<|end_header_id|>\n\n{content|trim}<|eot_id|>
    # The Go TEMPLATE cannot trim (text/template and Ollama's FuncMap have no
    # trim function): a message with outer whitespace reaches Ollama untrimmed.
    parts: list[PromptPart] = []
    for index, (role, body) in enumerate(turns):
        if _is_open_answer(turns, index):
            parts.append(TextPart(f"<|start_header_id|>{role}<|end_header_id|>\n\n{generation.answer_prefix}"))
            parts.extend(_trimmed(body))
            return parts  # a trailing assistant message is continued, not closed
        parts.append(TextPart(f"<|start_header_id|>{role}<|end_header_id|>\n\n"))
        parts.extend(_trimmed(body))
        parts.append(TextPart("<|eot_id|>"))
    parts.append(TextPart("<|start_header_id|>assistant<|end_header_id|>\n\n" + generation.answer_prefix))
    return parts


def _render_chatml(turns, generation, *, think: bool) -> list[PromptPart]:
    parts: list[PromptPart] = []
    for index, (role, body) in enumerate(turns):
        if _is_open_answer(turns, index):
            parts.append(TextPart(f"<|im_start|>{role}\n{generation.answer_prefix}"))
            parts.extend(body)
            return parts  # a trailing assistant message is continued, not closed
        parts.append(TextPart(f"<|im_start|>{role}\n"))
        parts.extend(body)
        parts.append(TextPart("<|im_end|>\n"))
    opening = "<|im_start|>assistant\n" + generation.answer_prefix
    if thinking_capable(generation) and not think:
        opening += EMPTY_THINK_BLOCK  # hybrid thinking switched off (Qwen3 convention)
    parts.append(TextPart(opening))
    return parts


def _is_open_answer(turns, index: int) -> bool:
    return index == len(turns) - 1 and turns[index][0] == "assistant"


def as_text(parts: Sequence[PromptPart], marker: str = "<__media__>") -> str:
    """The prompt as one string with the media marker for each image (for logs and tests)."""
    return "".join(part.text if isinstance(part, TextPart) else marker for part in parts)
