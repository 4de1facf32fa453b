"""The files a file manager hands over: paths (maybe relative, any bytes) or file:// URIs."""

from __future__ import annotations

import os
import sys
from typing import Sequence

from mcv.core.images.sources import display_name, file_url_path
from mcv.core.images.types import ImageSource
from mcv.errors import InputError


def selected_files(words: Sequence[str], *, cwd: str) -> list[ImageSource]:
    """One ImageSource per word, in order. Nothing here is read as an option or a prompt:
    every word is a file (the launchers put `--` before them). A remote URI is refused."""
    sources = []
    for word in words:
        path = _local_path(word)
        if not os.path.isabs(path):
            path = os.path.join(cwd, path)  # Nautilus scripts get names relative to the folder
        path = os.path.normpath(path)
        sources.append(ImageSource("path", path, display_name(os.path.basename(path) or path)))
    return sources


def _local_path(word: str) -> str:
    head = word[:16].lower()
    if head.startswith("file:"):
        path = file_url_path(word)
        if sys.platform == "win32" and path[:1] == "/" and path[2:3] == ":":
            path = path[1:]  # file:///C:/x.png
        return path
    scheme, sep, _ = head.partition("://")
    if sep and scheme.isalnum():
        raise InputError(
            f"{display_name(word)} is not a local file", hint="mcv reads local files only: copy the image to your computer first"
        )
    if not word:
        raise InputError("an empty file name was given")
    return word
