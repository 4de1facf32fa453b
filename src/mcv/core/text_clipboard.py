"""Put text on the system clipboard (`/copy` in chat).

Wayland: wl-copy; X11: xclip (xsel when xclip is missing); macOS: pbcopy;
Windows: clip. Each runs from an argument list with the text on its
standard input, never through a shell. wl-copy and xclip stay behind to
serve the selection, so their output goes nowhere (a pipe would be held
open by them and the call would wait for it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Mapping

from mcv.errors import InputError

TOOL_TIMEOUT = 10.0


def copy_text(text: str, *, environ: Mapping[str, str], platform: str | None = None) -> str:
    """Copy `text`; returns the tool used. InputError when no clipboard or tool is there."""
    argv, data = _command(text, environ, sys.platform if platform is None else platform)
    try:
        done = subprocess.run(
            argv,
            input=data,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=dict(environ),
            timeout=TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise InputError(f"{os.path.basename(argv[0])} did not finish within {TOOL_TIMEOUT:.0f} s") from None
    except OSError as err:
        raise InputError(f"cannot run {os.path.basename(argv[0])} ({err.strerror or err})") from None
    if done.returncode != 0:
        raise InputError(f"{os.path.basename(argv[0])} could not set the clipboard (exit code {done.returncode})")
    return os.path.basename(argv[0])


def _command(text: str, environ: Mapping[str, str], platform: str) -> tuple[list[str], bytes]:
    if platform == "darwin":
        return [_need("pbcopy", "pbcopy", environ)], text.encode("utf-8")
    if platform == "win32":
        # clip.exe reads UTF-16 with a byte-order mark as Unicode text.
        return [_need("clip", "clip", environ)], "\ufeff".encode("utf-16-le") + text.encode("utf-16-le")
    wayland, x11 = bool(environ.get("WAYLAND_DISPLAY")), bool(environ.get("DISPLAY"))
    if wayland and (_which("wl-copy", environ) or not x11):
        return [_need("wl-copy", "wl-clipboard", environ), "--type", "text/plain;charset=utf-8"], text.encode("utf-8")
    if x11:
        if _which("xclip", environ) or not _which("xsel", environ):
            return [_need("xclip", "xclip", environ), "-selection", "clipboard", "-i"], text.encode("utf-8")
        return [_need("xsel", "xsel", environ), "--clipboard", "--input"], text.encode("utf-8")
    raise InputError("no graphical session to copy to (neither WAYLAND_DISPLAY nor DISPLAY is set)")


def _need(name: str, package: str, environ: Mapping[str, str]) -> str:
    path = _which(name, environ)
    if path is None:
        raise InputError(f"{name} is not installed", hint=f"install the '{package}' package")
    return path


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))
