"""Read the image on the clipboard.

Wayland: `wl-paste`; X11: `xclip`; macOS and Windows: Pillow's ImageGrab.
The session decides (WAYLAND_DISPLAY, then DISPLAY); under XWayland, xclip
stands in when wl-paste is missing. A copied image file (text/uri-list, as
file managers put it) counts too. Tools run from argv lists, never a shell.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from mcv.errors import InputError
from mcv.core.images.sources import IMAGE_EXTENSIONS, read_path, too_big

TOOL_TIMEOUT = 10.0

# Clipboard types we ask for, best first; PNG is what screenshot tools offer.
IMAGE_TYPES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/tiff",
    "image/bmp",
    "image/heic",
    "image/avif",
)
URI_LIST = "text/uri-list"
NO_IMAGE_HINT = "copy an image first (e.g. take a screenshot to the clipboard)"


def read_clipboard(label: str, limit: int, *, environ: Mapping[str, str], platform: str | None = None) -> bytes:
    """The bytes of the image on the clipboard; InputError when there is none or no tool."""
    platform = sys.platform if platform is None else platform
    if platform in ("darwin", "win32"):
        return _grab_with_pillow(label, limit)
    wayland, x11 = bool(environ.get("WAYLAND_DISPLAY")), bool(environ.get("DISPLAY"))
    if wayland and (_which("wl-paste", environ) or not x11):
        return _read_with_tool(_WlPaste(environ), label, limit)
    if x11:
        return _read_with_tool(_Xclip(environ), label, limit)
    raise InputError(
        f"{label}: no graphical session to read a clipboard from (neither WAYLAND_DISPLAY nor DISPLAY is set)"
    )


class _Tool:
    """One clipboard command-line tool: list the offered types, fetch one."""

    name = ""
    package = ""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = dict(environ)
        self.path = _which(self.name, environ)

    def list_argv(self) -> list[str]:
        raise NotImplementedError

    def fetch_argv(self, mime: str) -> list[str]:
        raise NotImplementedError


class _WlPaste(_Tool):
    name, package = "wl-paste", "wl-clipboard"

    def list_argv(self) -> list[str]:
        return [self.path, "--list-types"]

    def fetch_argv(self, mime: str) -> list[str]:
        return [self.path, "--no-newline", "--type", mime]


class _Xclip(_Tool):
    name, package = "xclip", "xclip"

    def list_argv(self) -> list[str]:
        return [self.path, "-selection", "clipboard", "-t", "TARGETS", "-o"]

    def fetch_argv(self, mime: str) -> list[str]:
        return [self.path, "-selection", "clipboard", "-t", mime, "-o"]


def _read_with_tool(tool: _Tool, label: str, limit: int) -> bytes:
    if not tool.path:
        raise InputError(f"{label}: {tool.name} is not installed", hint=f"install the '{tool.package}' package")
    listed = _run(tool, tool.list_argv(), label)
    offered = {line.strip() for line in listed.decode("utf-8", "replace").splitlines() if line.strip()}
    for mime in IMAGE_TYPES:
        if mime in offered:
            data = _run(tool, tool.fetch_argv(mime), label)
            if len(data) > limit:
                raise too_big(label, limit, size=len(data))
            if not data:
                break
            return data
    if URI_LIST in offered:
        uris = _run(tool, tool.fetch_argv(URI_LIST), label).decode("utf-8", "replace")
        return _read_copied_file(_image_paths_from_uris(uris.splitlines()), label, limit)
    what = "is empty" if not offered else "holds no image"
    raise InputError(f"{label}: the clipboard {what}", hint=NO_IMAGE_HINT)


def _run(tool: _Tool, argv: Sequence[str], label: str) -> bytes:
    try:
        done = subprocess.run(list(argv), capture_output=True, env=tool.environ, timeout=TOOL_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise InputError(f"{label}: {tool.name} did not answer within {TOOL_TIMEOUT:.0f} s") from None
    except OSError as err:
        raise InputError(f"{label}: cannot run {tool.name} ({err.strerror or err})") from None
    if done.returncode != 0:
        # Both tools exit non-zero when nothing is copied or the type is not offered.
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = f" ({message[0]})" if message else ""
        raise InputError(f"{label}: no image on the clipboard{detail}", hint=NO_IMAGE_HINT)
    return done.stdout


def _image_paths_from_uris(lines: Sequence[str]) -> list[str]:
    paths = []
    for line in lines:
        line = line.strip()
        if line.startswith("file://"):
            path = unquote(urlsplit(line).path)
            if os.path.splitext(path)[1].lower() in IMAGE_EXTENSIONS:
                paths.append(path)
    return paths


def _read_copied_file(paths: Sequence[str], label: str, limit: int) -> bytes:
    for path in paths:
        if os.path.isfile(path):
            return read_path(path, f"{label} ({path})", limit)
    raise InputError(f"{label}: the clipboard holds no image", hint=NO_IMAGE_HINT)


def _grab_with_pillow(label: str, limit: int) -> bytes:
    """macOS and Windows: Pillow reads the system clipboard natively."""
    from PIL import Image, ImageGrab

    try:
        grabbed = ImageGrab.grabclipboard()
    except (OSError, NotImplementedError) as err:
        raise InputError(f"{label}: cannot read the clipboard ({err})") from None
    if isinstance(grabbed, Image.Image):
        buffer = io.BytesIO()
        grabbed.save(buffer, format="PNG")  # lossless hand-over to the normal pipeline
        if buffer.tell() > limit:
            raise too_big(label, limit, size=buffer.tell())
        return buffer.getvalue()
    if isinstance(grabbed, list):  # copied files
        images = [p for p in grabbed if os.path.splitext(str(p))[1].lower() in IMAGE_EXTENSIONS]
        return _read_copied_file(images, label, limit)
    raise InputError(f"{label}: the clipboard holds no image", hint=NO_IMAGE_HINT)


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))
