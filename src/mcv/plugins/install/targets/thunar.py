"""Thunar (Xfce): custom actions merged into uca.xml, a file shared with the person's own actions.

mcv's actions are found by their unique-id (`mcv-…`) and spliced in and out
as text, so every other byte of the file stays as it was: other actions,
comments, the DOCTYPE, the indentation. Thunar reads the first uca.xml on
the XDG config path, so a new file starts as a copy of the system one
(/etc/xdg/Thunar/uca.xml: "Open Terminal Here"), not empty, and is removed
again on uninstall when nothing else was changed in it.

Thunar runs the command with `/bin/sh -c`, after putting each selected path
in for `%F` shell-quoted (`%%` is a `%`): the mcv command is shell-quoted,
`%F` stays bare.
"""

from __future__ import annotations

import re
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from mcv.errors import InputError
from mcv.plugins.actions import ACTIONS, IMAGE_SUFFIXES, MENU_LABEL
from mcv.plugins.install.changes import MergeFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import shell_words

NAME = "thunar"
DESCRIPTION = "Thunar (Xfce): custom actions merged into uca.xml (your other actions are kept)"
AFTER = "Thunar reads its actions when it starts: quit it (thunar -q) if the entries do not show"
UNIQUE_PREFIX = "mcv-"
EMPTY = b'<?xml version="1.0" encoding="UTF-8"?>\n<actions>\n</actions>\n'
# One of mcv's <action> elements: from its start tag to its end tag, not crossing another action.
_OURS = re.compile(
    r"<action\b[^>]*>(?:(?!</action>).)*?<unique-id>\s*" + re.escape(UNIQUE_PREFIX) + r"[^<]*</unique-id>.*?</action>\n?",
    re.DOTALL,
)


def detect(context: Context) -> str | None:
    return None if context.which("thunar") else "thunar is not on PATH"


def plan(context: Context) -> list[MergeFile]:
    blocks = "".join(_action_xml(context, action) for action in ACTIONS).encode("utf-8")
    return [
        MergeFile(
            context.config_home / "Thunar" / "uca.xml",
            merge=lambda data: merge(data, blocks),
            unmerge=f"{__name__}:unmerge",
            base=_system_file(context),
        )
    ]


def _system_file(context: Context) -> bytes:
    for folder in context.config_dirs:
        try:
            return (folder / "Thunar" / "uca.xml").read_bytes()
        except OSError:
            continue
    return EMPTY


def _action_xml(context: Context, action) -> str:
    # Thunar turns %% into %, so a % in the mcv path must be doubled after shell quoting.
    command = shell_words([*context.launcher, action.command]).replace("%", "%%") + " -- %F"
    patterns = ";".join(f"*.{suffix};*.{suffix.upper()}" for suffix in IMAGE_SUFFIXES)
    return (
        "<action>\n"
        f"\t<icon>{escape(action.icon)}</icon>\n"
        f"\t<name>{escape(action.label)}</name>\n"
        f"\t<submenu>{escape(MENU_LABEL)}</submenu>\n"
        f"\t<unique-id>{UNIQUE_PREFIX}{escape(action.command)}</unique-id>\n"
        f"\t<command>{escape(command)}</command>\n"
        f"\t<description>mcv {escape(action.command)}: MiniCPM-V on the selected images</description>\n"
        f"\t<patterns>{escape(patterns)}</patterns>\n"
        "\t<image-files/>\n"
        "</action>\n"
    )


def _text(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
        root = ElementTree.fromstring(data)
    except (UnicodeDecodeError, ElementTree.ParseError) as err:
        raise InputError(f"Thunar's uca.xml is not valid XML ({err}): left as it is", hint="fix or move the file, then install again") from None
    if root.tag != "actions":
        raise InputError(f"Thunar's uca.xml has <{root.tag}> at its root, not <actions>: left as it is")
    return text


def merge(data: bytes, blocks: bytes) -> bytes:
    """`data` with mcv's actions (`blocks`) in, just before </actions>; earlier ones replaced."""
    text = _OURS.sub("", _text(data))
    end = text.rfind("</actions>")
    if end < 0:  # <actions/>: Thunar never writes it, and mcv would have to change it to add anything
        raise InputError("Thunar's uca.xml has an empty <actions/> element: left as it is", hint="remove the file (it holds no action), then install again")
    return (text[:end] + blocks.decode("utf-8") + text[end:]).encode("utf-8")


def unmerge(data: bytes) -> bytes:
    """`data` without mcv's actions (every other byte as it was)."""
    return _OURS.sub("", _text(data)).encode("utf-8")
