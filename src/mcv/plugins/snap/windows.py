"""Windows: the screen-clip overlay for a region, Pillow's ImageGrab for the rest.

Windows has no picker that writes a file: `ms-screenclip:` opens the overlay
(Win+Shift+S), which puts the clip on the clipboard. So the clipboard's
sequence number is read first, the overlay is opened through explorer.exe
(an argument list), and the clipboard is watched until it changes; no change
within CLIP_WAIT seconds (Esc gives no signal) counts as cancelled.
"""

from __future__ import annotations

import io
import os
import subprocess
import time
from typing import Mapping

from mcv.plugins.snap.capture import Cancelled, CaptureFailed, Geometry, which

CLIP_WAIT = 120.0  # seconds to wait for the clip
POLL = 0.2


class WindowsClipboard:
    def sequence(self) -> int:
        import ctypes

        return int(ctypes.windll.user32.GetClipboardSequenceNumber())  # type: ignore[attr-defined]

    def image(self) -> bytes | None:
        from PIL import ImageGrab

        grabbed = ImageGrab.grabclipboard()
        if grabbed is None or isinstance(grabbed, list):
            return None
        return _png(grabbed)


def screen_clip(environ: Mapping[str, str], *, clipboard=None, wait: float | None = None) -> bytes:
    clipboard = clipboard or WindowsClipboard()
    wait = CLIP_WAIT if wait is None else wait
    before = clipboard.sequence()
    explorer = which("explorer.exe", environ) or os.path.join(environ.get("SystemRoot", r"C:\Windows"), "explorer.exe")
    try:
        subprocess.Popen([explorer, "ms-screenclip:"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=dict(environ))  # fmt: skip
    except OSError as err:
        raise CaptureFailed(f"cannot open the screen-clip overlay ({err.strerror or err})") from None
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if clipboard.sequence() != before:
            data = clipboard.image()
            if data is None:
                raise Cancelled()  # something else (text) was copied meanwhile
            return data
        time.sleep(POLL)
    raise Cancelled()


def grab(mode: str, geometry: Geometry | None) -> bytes:
    try:
        from PIL import ImageGrab

        if mode == "screen":
            return _png(ImageGrab.grab(all_screens=True))
        if mode == "geometry" and geometry is not None:
            box = (geometry.x, geometry.y, geometry.x + geometry.width, geometry.y + geometry.height)
            return _png(ImageGrab.grab(bbox=box, all_screens=True))
        return _png(ImageGrab.grab(bbox=_foreground_window(), all_screens=True))
    except OSError as err:
        raise CaptureFailed(f"cannot capture the screen ({err})") from None


def _foreground_window() -> tuple[int, int, int, int]:
    import ctypes
    from ctypes import wintypes

    user32 = ctypes.windll.user32  # type: ignore[attr-defined]
    window = user32.GetForegroundWindow()
    rect = wintypes.RECT()
    if not window or not user32.GetWindowRect(window, ctypes.byref(rect)):
        raise CaptureFailed("there is no active window to capture")
    return rect.left, rect.top, rect.right, rect.bottom


def _png(image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
