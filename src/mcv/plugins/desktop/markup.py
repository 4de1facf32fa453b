"""Model output and file names made safe for what displays them.

Model output is untrusted text (an image can carry text written to steer the
model), and file names can be anything. Notification bodies and zenity's
--text are Pango markup; kdialog's message boxes are Qt rich text; GTK entry
labels treat `_` as a mnemonic. Nothing here ever reaches a shell.
"""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls: markup parsers refuse them, even as references.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_PANGO = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "'": "&#39;", '"': "&quot;"}


def plain(text: str) -> str:
    """`text` with control characters dropped (CR LF -> LF) and lone surrogates replaced."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROLS.sub("", text)
    return text.encode("utf-8", "replace").decode("utf-8")


def pango(text: str) -> str:
    """`text` as Pango markup that shows exactly it (what g_markup_escape_text does)."""
    return "".join(_PANGO.get(char, char) for char in plain(text))


def qt_rich_text(text: str) -> str:
    """`text` as Qt rich text (kdialog message boxes guess rich text: make it explicit, escaped)."""
    escaped = "".join(_PANGO.get(char, char) for char in plain(text))
    return "<p>" + escaped.replace("\n", "<br>") + "</p>"


def mnemonic_safe(text: str) -> str:
    """`text` for a GTK label with mnemonics (zenity --entry): `_` shown, not eaten."""
    return plain(text).replace("_", "__")


def shorten(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word with an ellipsis."""
    text = text.strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"
