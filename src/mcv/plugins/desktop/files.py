"""The files a file manager hands over: paths (maybe relative, any bytes) or file:// URIs."""

from __future__ import annotations

import os
import re
import sys
from typing import Sequence
from urllib.parse import urlsplit

from mcv.core.images.sources import display_name, file_url_path
from mcv.core.images.types import ImageSource
from mcv.errors import InputError

_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")


def selected_files(words: Sequence[str], *, cwd: str) -> list[ImageSource]:
    """One ImageSource per word, in order. Nothing here is read as an option or a prompt:
    every word is a file (the launchers put `--` before them). A remote URI is refused."""
    sources = []
    for word in words:
        path = _local_path(word)
        if not os.path.isabs(path):
            path = os.path.join(cwd, path)  # Nautilus scripts get names relative to the folder
        path = os.path.normpath(path)
        sources.append(ImageSource("path", path, _label(os.path.basename(path) or path)))
    return sources


def _label(name: str) -> str:
    """`name` as one line of text: control characters (a newline in a file name) shown as escapes."""
    text = display_name(name)
    return _CONTROLS.sub(lambda match: repr(match.group())[1:-1], text)


def anchored(word: str, cwd: str) -> str:
    """`word` as it reads from any folder: a relative path joined to `cwd` (the folder it was given
    in), a URI or an absolute path as it is (mcv/plugins/desktop/gather.py moves words between processes)."""
    if not word or _uri_kind(word) is not None or os.path.isabs(word):
        return word
    return os.path.normpath(os.path.join(cwd, word))


def _uri_kind(word: str) -> str | None:
    """The kind of URI `word` is: "file", "remote", or None for a path."""
    head = word[:16].lower()
    # A file URI's path is absolute (RFC 8089): `file:x.png` is a file of that name (a Nautilus
    # script hands names over relative to the folder), not a URI for x.png.
    if head.startswith("file:/"):
        return "file"
    scheme, sep, _ = head.partition("://")
    return "remote" if sep and scheme.isalnum() else None


def _local_path(word: str) -> str:
    kind = _uri_kind(word)
    if kind == "file":
        return _file_uri_path(word)
    if kind == "remote":
        raise _not_local(word)
    if not word:
        raise InputError("an empty file name was given")
    return word


def _file_uri_path(word: str) -> str:
    host = urlsplit(word).hostname or ""
    if host not in ("", "localhost", "127.0.0.1", "::1"):
        raise _not_local(word)  # file://server/share/x.png is that server's file
    path = file_url_path(word)
    if sys.platform == "win32" and path[:1] == "/" and path[2:3] == ":":
        path = path[1:]  # file:///C:/x.png
    return path


def _not_local(word: str) -> InputError:
    return InputError(
        f"{display_name(word)} is not a local file", hint="mcv reads local files only: copy the image to your computer first"
    )
