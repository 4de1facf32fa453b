"""Image thumbnails in the terminal, drawn by textual-image.

textual-image (maintained; Rich renderables) draws through the kitty
graphics protocol, sixel (xterm, foot, WezTerm, iTerm2, Konsole, mlterm,
tmux built with sixel) or coloured half-blocks anywhere else. term-image
pins Pillow < 11 (mcv needs >= 11.3) and has no sixel; rich-pixels only
draws half-blocks.

Thumbnails are drawn only on a terminal: never when stdout is piped, off
with --no-preview or `chat.preview = off`. `auto` asks the terminal once,
at the first thumbnail (sixel, then kitty graphics; 0.1 s each at most),
between prompts so that no typed key is taken for an answer.
"""

from __future__ import annotations

import io
import sys
from contextlib import contextmanager
from typing import Iterator

THUMBNAIL_ROWS = 8
MAX_COLUMNS = 48


class Previewer:
    def __init__(self, env, mode: str = "auto") -> None:
        self.env = env
        dumb = env.environ.get("TERM") in (None, "", "dumb")
        self.mode = "off" if not env.stdout_isatty or dumb or mode == "off" else mode
        self._renderable = None

    @property
    def enabled(self) -> bool:
        return self.mode != "off"

    def show(self, image) -> None:
        """The thumbnail of a PreparedImage (when previews are on). An image that
        does not decode (a damaged file /load-ed) shows no thumbnail, and says so."""
        if not self.enabled:
            return
        from PIL import Image

        renderable = self._image_class()
        try:
            with Image.open(io.BytesIO(image.data)) as picture:
                picture.load()
                thumbnail = renderable(picture.convert("RGB"), width="auto", height=THUMBNAIL_ROWS)
        except Exception as err:  # noqa: BLE001 - whatever the decoder says, a thumbnail is not worth a traceback
            from mcv.errors import first_line

            self.env.note(f"{image.label}: no thumbnail ({first_line(err)})")
            return
        console = self.env.console()
        console.print(thumbnail, width=min(MAX_COLUMNS, console.width))

    def _image_class(self):
        if self._renderable is None:
            self._renderable = pick_renderable(self.mode)
        return self._renderable


def pick_renderable(mode: str):
    """The textual-image renderable for `mode` (auto: what the terminal answers it can draw)."""
    import logging

    # A terminal that does not say its cell size in pixels is normal (tmux, most
    # ptys); the library then assumes one and logs a traceback nobody needs.
    logging.getLogger("textual_image").addHandler(logging.NullHandler())
    logging.getLogger("textual_image").propagate = False
    with _no_queries_on_import():
        from textual_image.renderable import halfcell, sixel, tgp
    _settle_cell_size()
    if mode == "kitty":
        return tgp.Image
    if mode == "sixel":
        return sixel.Image
    if mode == "auto":
        if sixel.query_terminal_support():
            return sixel.Image
        if tgp.query_terminal_support():
            return tgp.Image
    return halfcell.Image


def _settle_cell_size() -> None:
    """The cell size in pixels from the terminal driver, or the library's VT340
    default: never the library's fallback of asking the terminal on stdin,
    which would take a key typed meanwhile for its answer."""
    try:
        from textual_image import _terminal  # private: another version may lack it (then the library asks)

        if hasattr(_terminal.get_cell_size, "_result"):
            return
        width, height = 10, 20
        try:
            rows, columns, pixels_wide, pixels_high = _terminal.get_tiocgwinsz()
            if rows and columns and pixels_wide and pixels_high:
                width, height = pixels_wide // columns, pixels_high // rows
        except Exception:  # not a terminal, or no pixel size
            pass
        _terminal.get_cell_size._result = _terminal.CellSize(width, height)  # type: ignore[attr-defined]
    except (ImportError, AttributeError):
        pass


@contextmanager
def _no_queries_on_import() -> Iterator[None]:
    """textual_image.renderable asks the terminal what it can draw when it is
    imported; mcv asks (or not) itself, when it knows the mode, so the library
    is shown no terminal while it imports."""
    saved = sys.__stdout__
    sys.__stdout__ = None  # type: ignore[misc]
    try:
        yield
    finally:
        sys.__stdout__ = saved  # type: ignore[misc]
