"""Hints in the chat's words: a fix the core phrases as a command-line flag becomes the chat command.

The core's errors speak to every surface, and most are command lines
("leave out --think", "-m minicpm-v"); inside `mcv chat` the fix is a slash
command, so the hint says that one instead.
"""

from __future__ import annotations

import re

from mcv.errors import McvError

_IN_CHAT: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"leave out --think(?: for this model)?|leave --think off"), "/think off"),
    (re.compile(r"(?<![\w-])-m (\S+?)(?=[),;]|$|\s)"), r"/model \1"),
    (re.compile(r"--option (\w+)=N\b"), r"/set \1 N"),
    (re.compile(r"--option (\w+)=(\S+)"), r"/set \1 \2"),
    (re.compile(r"leave out --schema"), "start the chat without a preset that asks for JSON"),
)


def chat_hint(hint: str | None) -> str | None:
    """`hint` with command-line fixes replaced by the chat commands that do the same."""
    if not hint:
        return hint
    for pattern, replacement in _IN_CHAT:
        hint = pattern.sub(replacement, hint)
    return hint


def in_chat(err: McvError) -> McvError:
    """The same error, its hint in the chat's words (the exit code kept)."""
    hint = chat_hint(err.hint)
    if hint == err.hint:
        return err
    copy = McvError(err.message, hint=hint)
    copy.exit_code = err.exit_code
    return copy
