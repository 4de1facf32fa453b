"""Bytes of a sniffed raster format -> a loaded PIL image, within the pixel limits.

JPEGs are decoded with libjpeg's DCT scaling (`Image.draft`) at the smallest
1/2, 1/4 or 1/8 scale still at least the target size, so a 200 MP phone photo
decodes into ~3 MP of pixels instead of 600 MB, and the decoded-pixel limit
applies to that reduced size. Every other format is checked against the limit from its header
before a pixel is allocated.
"""

from __future__ import annotations

import io
import struct
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mcv.errors import InputError
from mcv.core.images.budget import fit_to_budget
from mcv.core.images.sniff import LOSSLESS_FORMATS, is_webp_lossless
from mcv.core.images.types import PrepareSettings

ORIENTATION_TAG = 0x0112
TRANSPOSING_ORIENTATIONS = (5, 6, 7, 8)  # EXIF orientations that swap width and height
# Loaders that turn the pixels upright themselves: Pillow's TIFF plugin (upright
# size at open, transposed at load) and pillow-heif (libheif applies irot/imir).
SELF_ORIENTING = frozenset({"TIFF", "HEIF"})

FORMAT_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "GIF": "GIF", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP",
                "HEIF": "HEIF", "AVIF": "AVIF", "PDF": "PDF"}  # fmt: skip
_FRAME_WORDS = {"GIF": ("animated GIF", "frames"), "WEBP": ("animated WebP", "frames"),
                "PNG": ("animated PNG", "frames"), "TIFF": ("multi-page TIFF", "pages")}  # fmt: skip

# What Pillow and its plugins raise on hostile or damaged data (they are not consistent).
DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError, SyntaxError, ValueError, TypeError, IndexError, KeyError,
    struct.error, EOFError, ZeroDivisionError, OverflowError, MemoryError, RuntimeError,
)  # fmt: skip

_pillow_limit_lock = threading.Lock()
_heif_registered = False


@dataclass
class Decoded:
    image: Any  # a loaded PIL.Image.Image; a JPEG may be draft-reduced
    width: int  # upright size of the full image, before any reduction
    height: int
    orientation: int  # EXIF orientation 1..8, not yet applied
    lossless: bool  # stored without loss (PNG, GIF, lossless WebP, ...)
    icc: bytes | None
    notes: list[str] = field(default_factory=list)


def decode(data: bytes, fmt: str, label: str, settings: PrepareSettings) -> Decoded:
    """Open and load `data` (sniffed as `fmt`); InputError for anything unusable."""
    from PIL import Image

    if fmt == "HEIF":
        _register_heif(label)
    elif fmt == "AVIF":
        _require_avif(label)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns on odd files; we judge them ourselves
        try:
            with _without_pillow_limit():
                im = Image.open(io.BytesIO(data), formats=[fmt])
            return _load(im, data, fmt, label, settings)
        except InputError:
            raise
        except Image.DecompressionBombError:
            raise InputError(f"{label}: the image is too large to decode safely") from None
        except DECODE_ERRORS as err:
            raise damaged(label, fmt, err) from None


def _load(im, data: bytes, fmt: str, label: str, settings: PrepareSettings) -> Decoded:
    stored_size = im.size
    if stored_size[0] <= 0 or stored_size[1] <= 0:
        raise InputError(f"{label}: the {FORMAT_NAMES[fmt]} image has no pixels ({stored_size[0]}x{stored_size[1]})")
    notes: list[str] = []
    if fmt == "JPEG":
        # EXIF sits in APP1, parsed at open: orientation is known before decoding,
        # so draft can aim at the upright target size.
        orientation = _orientation(im)
        width, height = _upright_size(stored_size, orientation)
        target = fit_to_budget(width, height, settings.max_pixels)
        if target != (width, height):
            im.draft(None, target[::-1] if orientation in TRANSPOSING_ORIENTATIONS else target)
        check_pixels(im.size, label, settings.max_decoded_pixels, full_size=stored_size)
        im.load()
    else:
        # Checked from the header before anything is allocated. (Reading EXIF
        # first would not do: Pillow's PNG getexif() decodes the whole image
        # to look for an eXIf chunk after the pixel data.)
        check_pixels(stored_size, label, settings.max_decoded_pixels)
        notes = _frame_notes(im, fmt)
        im.load()
        orientation = 1 if fmt in SELF_ORIENTING else _orientation(im)
        width, height = _upright_size(im.size, orientation)
    return Decoded(
        image=im,
        width=width,
        height=height,
        orientation=orientation,
        lossless=_is_lossless(im, data, fmt),
        icc=im.info.get("icc_profile") or None,
        notes=notes,
    )


def _upright_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    return (size[1], size[0]) if orientation in TRANSPOSING_ORIENTATIONS else size


def check_pixels(size: tuple[int, int], label: str, limit: int, *, full_size: tuple[int, int] | None = None) -> None:
    """Refuse decoding `size` pixels (the size to be allocated) when over `limit`."""
    width, height = size
    if width * height <= limit:
        return
    reduced = f" (reduced from {full_size[0]}x{full_size[1]})" if full_size and full_size != size else ""
    raise InputError(
        f"{label}: {width}x{height}{reduced} is {width * height / 1e6:.0f} MP, "
        f"over the {limit / 1e6:.0f} MP decoding limit",
        hint="a picture this large is refused as a possible decompression bomb; shrink it first",
    )


def damaged(label: str, fmt: str, err: BaseException) -> InputError:
    from PIL import UnidentifiedImageError

    if isinstance(err, UnidentifiedImageError):
        reason = "the decoder does not recognise it"
    else:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
    return InputError(f"{label}: damaged or truncated {FORMAT_NAMES.get(fmt, fmt)} image ({reason})")


def _frame_notes(im, fmt: str) -> list[str]:
    frames = getattr(im, "n_frames", 1) if fmt in _FRAME_WORDS else 1
    if frames <= 1:
        return []
    what, unit = _FRAME_WORDS[fmt]
    return [f"{what}: first of {frames} {unit} used"]


def _orientation(im) -> int:
    try:
        value = im.getexif().get(ORIENTATION_TAG, 1)
    except DECODE_ERRORS:  # unreadable EXIF: treat as upright rather than refuse the picture
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _is_lossless(im, data: bytes, fmt: str) -> bool:
    if fmt == "WEBP":
        return is_webp_lossless(data)
    if fmt == "TIFF":
        return "jpeg" not in str(im.info.get("compression", "")).lower()
    return fmt in LOSSLESS_FORMATS


@contextmanager
def _without_pillow_limit():
    """Lift Pillow's fixed bomb limit while opening (only the header is read then).

    Pillow refuses anything over ~179 MP at open, before we could ask libjpeg
    for a 1/8-scale decode of a 200 MP photo; our own limit (`check_pixels`)
    is applied instead, to the size that will actually be allocated.
    """
    from PIL import Image

    with _pillow_limit_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _register_heif(label: str) -> None:
    """Teach Pillow HEIF only when a HEIF file turns up (pillow-heif is slow to import)."""
    global _heif_registered
    if _heif_registered:
        return
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        raise InputError(
            f"{label}: reading HEIC/HEIF images needs the pillow-heif package", hint="pip install pillow-heif"
        ) from None
    register_heif_opener()
    _heif_registered = True


def _require_avif(label: str) -> None:
    from PIL import features

    if not features.check("avif"):
        raise InputError(f"{label}: this Pillow was built without AVIF support", hint="pip install -U Pillow")
