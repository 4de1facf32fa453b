"""Images named in the chat: on its command line (`mcv chat IMAGE...`) and after /image.

One word is one image: an existing file, an http(s) URL or a file:// URI
(core/images/sources.py). After /image the argument is read as the forms
terminals type for dropped files (quoted, `\\ ` escapes, file:// URIs,
U+202F: core/dropped_paths.py), then as one path, spaces and all
(`/image My Pictures/receipt.png` needs no quotes), then as shell words
(URLs among them).
"""

from __future__ import annotations

import shlex
from typing import Sequence

from mcv.core.images.types import ImageSource
from mcv.errors import InputError, UsageError


def sources_from_words(words: Sequence[str], *, whole: str | None = None) -> list[ImageSource]:
    """Each word an image; InputError naming the first that is not (or `whole`, the argument
    they came from, when it reads as one path: "My Pictures/x.png" was not two files)."""
    from mcv.core.images.sources import looks_like_image_path, parse_image_arg

    sources = []
    for word in words:
        if word == "-":
            raise UsageError("mcv chat reads your messages from standard input: it cannot be an image too")
        source = parse_image_arg(word)
        if source is None:
            missing = whole if whole is not None and looks_like_image_path(whole) else word
            raise InputError(f"{missing}: no such file")
        sources.append(source)
    return sources


def sources_from_argument(argument: str) -> list[ImageSource]:
    """The images /image's argument names (see the module docstring)."""
    from mcv.core.dropped_paths import dropped_images
    from mcv.core.images.sources import parse_image_arg

    text = argument.strip()
    if not text:
        raise UsageError("/image needs a path (or a URL)", hint="e.g. /image ~/Pictures/receipt.jpg")
    dropped = dropped_images(text)
    if dropped is not None:
        return dropped
    whole = parse_image_arg(text) if text != "-" else None
    if whole is not None:
        return [whole]
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise UsageError(f"cannot read the paths: {err}", hint="quote a name with spaces, or escape them with \\") from None
    return sources_from_words(words, whole=text)
