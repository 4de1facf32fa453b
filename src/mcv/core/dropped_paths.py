"""A line that is nothing but file paths: what a terminal types when files are dropped on it.

Terminals type a dropped file as a path, in their own way: quoted
(`'/home/me/My Pictures/a.png' `, GNOME and KDE), with backslash-escaped
spaces (`/Users/me/Screen\\ Shot.png`, macOS Terminal and iTerm2), as a
`file://` URI (copied from a file manager), or double-quoted (Windows
Terminal). macOS names screenshots "Screenshot 2024-05-01 at 10.00.00 AM.png"
with a NARROW NO-BREAK SPACE (U+202F) before AM/PM; a paste that turned it
into a plain space (or the other way round) still finds the file.

A line counts as dropped files only when every word of it is an existing
file that reads as a path (a separator, or an image extension): a question
that mentions a file name stays a question. A paste of several lines (a file
manager's copied files: file:// URIs one a line, often CRLF-separated) counts
when every non-empty line does.
"""

from __future__ import annotations

import os
import re
import shlex
import sys

from mcv.core.images.sources import IMAGE_EXTENSIONS, display_name, file_url_path
from mcv.core.images.types import ImageSource

_SPACES = str.maketrans({"\u202f": " ", "\u00a0": " "})
_LINE_BREAKS = re.compile(r"\r\n|\r|\n")


def dropped_images(text: str, *, cwd: str | None = None) -> list[ImageSource] | None:
    """The files `text` names (every non-empty line of it), or None when it is text to send."""
    if len(text) > 65536:
        return None
    lines = [line for line in _LINE_BREAKS.split(text) if line.strip()]
    if not lines:
        return None
    sources = []
    for line in lines:
        words = _words(line.strip())
        if not words:
            return None
        for word in words:
            path = _existing_path(word, cwd)
            if path is None:
                return None
            sources.append(ImageSource("path", path, display_name(os.path.basename(path))))
    return sources


def _words(line: str) -> list[str] | None:
    if not line:
        return None
    try:
        return shlex.split(line, posix=sys.platform != "win32" or not line.startswith('"'))
    except ValueError:  # an unbalanced quote: text, not a drop
        return None


def _existing_path(word: str, cwd: str | None) -> str | None:
    if word.lower().startswith("file://"):
        word = file_url_path(word)
        if sys.platform == "win32" and word[:1] == "/" and word[2:3] == ":":
            word = word[1:]  # file:///C:/x.png
    else:
        has_separator = "/" in word or os.sep in word
        if not has_separator and os.path.splitext(word)[1].lower() not in IMAGE_EXTENSIONS:
            return None
        word = os.path.expanduser(word)
    path = os.path.abspath(os.path.join(cwd or os.getcwd(), word))
    if os.path.isfile(path):
        return path
    return _same_but_spaces(path)


def _same_but_spaces(path: str) -> str | None:
    """The file in the same folder whose name differs only in its kind of spaces (U+202F, U+00A0)."""
    folder, name = os.path.split(path)
    wanted = name.translate(_SPACES)
    if wanted == name and not any(c == " " for c in name):
        return None
    try:
        entries = os.listdir(folder)
    except OSError:
        return None
    for entry in entries:
        if entry != name and entry.translate(_SPACES) == wanted and os.path.isfile(os.path.join(folder, entry)):
            return os.path.join(folder, entry)
    return None
