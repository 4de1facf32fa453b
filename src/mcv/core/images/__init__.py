"""One image pipeline for every surface: sources -> decode -> normalise -> payload.

Public API (import from here or from the named module):
    ImageSource, PreparedImage, PrepareSettings         (types.py)
    parse_image_arg(arg), looks_like_image_path(arg),
    clipboard_source()                                   (sources.py)
    prepare(source, settings, stdin=) -> [PreparedImage] (prepare.py)
    slice_grid(w, h), image_token_count(w, h, n)         (grid.py)

Modules: sniff (magic bytes), download (URLs), clipboard, decode (Pillow,
JPEG draft, limits), pdf (pypdfium2), color (modes, ICC), budget (target
size), encode (deterministic JPEG/PNG). PIL is imported only inside
functions, so parsing arguments stays cheap; the names below load on use.
"""

from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings

_LAZY = {
    "parse_image_arg": "mcv.core.images.sources",
    "looks_like_image_path": "mcv.core.images.sources",
    "clipboard_source": "mcv.core.images.sources",
    "prepare": "mcv.core.images.prepare",
    "slice_grid": "mcv.core.images.grid",
    "image_token_count": "mcv.core.images.grid",
}

__all__ = [
    "ImageSource",
    "PreparedImage",
    "PrepareSettings",
    "clipboard_source",
    "image_token_count",
    "looks_like_image_path",
    "parse_image_arg",
    "prepare",
    "slice_grid",
]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
