"""Where image bytes come from: a file, a URL, standard input or the clipboard.

`parse_image_arg` decides, for one command-line word, whether it names an
image; `read_source` fetches the bytes, never more than `max_input_bytes`.
Imported early by `mcv ask` for argument parsing, so this module imports
nothing heavy (no PIL, no httpx) at load time.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from mcv.errors import InputError
from mcv.core.images.types import ImageSource, PrepareSettings
from mcv.core.units import format_bytes

IMAGE_EXTENSIONS = frozenset(
    ".jpg .jpeg .jpe .jfif .png .apng .webp .gif .tif .tiff .bmp .dib .heic .heif .hif .avif .pdf".split()
)


def parse_image_arg(arg: str, *, cwd: str | os.PathLike[str] | None = None) -> ImageSource | None:
    """The image an argument names, or None when it is (part of) the prompt.

    An existing file -> "path"; http(s) URL -> "url"; "-" -> "stdin";
    a file:// URL of an existing file (what file managers paste) -> "path".
    The path keeps a file name's exact bytes (str with surrogate escapes, as
    os.fsdecode makes them); the label is always writable text (`display_name`).
    """
    if arg == "-":
        return ImageSource("stdin", "-", "stdin")
    scheme = arg[:8].lower()
    if scheme.startswith(("http://", "https://")) and not any(c.isspace() for c in arg):
        return ImageSource("url", arg, display_name(arg))
    if scheme.startswith("file://"):
        path = file_url_path(arg)
        return ImageSource("path", path, display_name(arg)) if path and os.path.isfile(path) else None
    if not arg or "\n" in arg or len(arg) > 4096:
        return None
    path = os.path.expanduser(arg)
    if cwd is not None:
        path = os.path.join(os.fspath(cwd), path)
    if os.path.isfile(path):  # False (not an error) for names the OS rejects
        return ImageSource("path", os.path.abspath(path), display_name(arg))
    return None


def display_name(name: str) -> str:
    """`name` as text that can be written anywhere (UTF-8: the history, a saved chat, JSON).

    A file name need not be UTF-8: Python hands its undecodable bytes over as
    lone surrogates (os.fsdecode's surrogateescape), which no UTF-8 writer
    accepts. Each such byte becomes U+FFFD here; the path itself keeps them.
    """
    try:
        raw = name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate no file name could have made
        raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def file_url_path(url: str) -> str:
    """The path of a file:// URL; %-escapes that are not UTF-8 stay the file name's own bytes."""
    return unquote(urlsplit(url).path, errors="surrogateescape")


def looks_like_image_path(arg: str) -> bool:
    """Whether `arg` reads as a path to an image (so a missing file is an error, not prompt text).

    It must end in an image or PDF extension and either contain a path
    separator or no whitespace: "shots/day 1.png" and "cat.jpg" are paths,
    "what is in cat.jpg" is a prompt.
    """
    if not arg or "\n" in arg or len(arg) > 4096:
        return False
    if os.path.splitext(arg)[1].lower() not in IMAGE_EXTENSIONS:
        return False
    has_separator = "/" in arg or os.sep in arg
    return has_separator or not any(c.isspace() for c in arg)


def clipboard_source() -> ImageSource:
    """The image on the clipboard, read when the source is prepared."""
    return ImageSource("clipboard", "clipboard", "clipboard")


def read_source(
    source: ImageSource,
    settings: PrepareSettings,
    *,
    stdin: BinaryIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> bytes:
    """The bytes of `source`; InputError when they cannot be had or exceed the size cap."""
    limit = settings.max_input_bytes
    if source.kind == "path":
        return read_path(str(source.value), source.label, limit)
    if source.kind == "url":
        from mcv.core.images.download import download

        return download(str(source.value), source.label, limit, total_timeout=settings.download_timeout)
    if source.kind == "stdin":
        stream = stdin if stdin is not None else getattr(sys.stdin, "buffer", None)
        if stream is None:
            raise InputError(f"{source.label}: no standard input to read an image from")
        return read_capped(stream, source.label, limit)
    if source.kind == "clipboard":
        from mcv.core.images.clipboard import read_clipboard

        return read_clipboard(source.label, limit, environ=os.environ if environ is None else environ)
    if source.kind == "bytes":
        data = bytes(source.value)  # a str here is a caller's bug: bytes() refuses it
        if len(data) > limit:
            raise too_big(source.label, limit, size=len(data))
        return data
    raise InputError(f"{source.label}: unknown image source kind '{source.kind}'")


def read_path(path: str, label: str, limit: int) -> bytes:
    with _reading(label):
        with open(path, "rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:  # refused before reading a byte
                raise too_big(label, limit, size=size)
            return read_capped(file, label, limit)


def read_head(path: str, label: str, count: int) -> bytes:
    """The first `count` bytes of a file (enough to tell what it is)."""
    with _reading(label):
        with open(path, "rb") as file:
            return file.read(count)


@contextmanager
def _reading(label: str) -> Iterator[None]:
    """A file that cannot be read is one line naming it."""
    try:
        yield
    except FileNotFoundError:
        raise InputError(f"{label}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{label}: is a directory, not an image") from None
    except PermissionError:
        raise InputError(f"{label}: permission denied") from None
    except OSError as err:
        raise InputError(f"{label}: cannot read ({err.strerror or err})") from None


def read_capped(stream: BinaryIO, label: str, limit: int) -> bytes:
    """Read `stream` to the end, refusing it as soon as it passes `limit` bytes."""
    chunks: list[bytes] = []
    total = 0
    try:
        while True:
            chunk = stream.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise too_big(label, limit)
    except OSError as err:
        raise InputError(f"{label}: cannot read ({err.strerror or err})") from None
    except ValueError as err:  # read from a closed stream
        raise InputError(f"{label}: cannot read ({err})") from None
    return b"".join(chunks)


def too_big(label: str, limit: int, *, size: int | None = None) -> InputError:
    what = f"{format_bytes(size)}, over" if size is not None else "larger than"
    return InputError(
        f"{label}: {what} the {format_bytes(limit)} limit for an image input",
        hint="shrink or crop the image first",
    )
