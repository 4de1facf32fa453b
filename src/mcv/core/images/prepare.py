"""The image pipeline: source -> bytes -> sniff -> decode -> RGB -> budget -> upright -> encode.

Each image comes out as an upright 8-bit sRGB picture within the pixel
budget, encoded deterministically with no metadata (no GPS or camera EXIF
leaves the machine). A PDF yields one image per selected page.
"""

from __future__ import annotations

import sys
import threading
from typing import BinaryIO

from mcv.errors import InputError, UsageError
from mcv.core.images.budget import fit_to_budget
from mcv.core.images.color import to_rgb, to_srgb
from mcv.core.images.decode import DECODE_ERRORS, TRANSPOSING_ORIENTATIONS, decode
from mcv.core.images.encode import choose_format, encode
from mcv.core.images.sniff import describe_non_image, sniff
from mcv.core.images.sources import read_head, read_source
from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings

# Resampling: bicubic for lossy (photographic) sources, as the model's own
# preprocessor resizes and after the JPEG draft step has already low-passed
# the pixels; Lanczos for lossless sources, where it keeps glyph edges crisp.
# The reducing gap lets Pillow box-reduce very large images first (much
# faster, no visible difference at a gap of 3).
REDUCING_GAP = 3.0
HEAD_BYTES = 4096  # enough for sniff() and describe_non_image()
# The resize of a large image runs in this many bands at once (two cores
# halve its ~28 ms for 12 MP -> 1.8 MP); small images are not worth a thread.
RESIZE_STRIPS = 2
STRIPS_FROM_PIXELS = 1_000_000


def prepare(
    source: ImageSource, settings: PrepareSettings = PrepareSettings(), *, stdin: BinaryIO | None = None
) -> list[PreparedImage]:
    """The prepared image(s) of `source`; InputError (one line naming it) when unusable."""
    check_settings(settings)
    data = read_source(source, settings, stdin=stdin)
    fmt = sniff(data)
    if fmt is None:
        raise InputError(f"{source.label}: {describe_non_image(data)}")
    if fmt == "PDF":
        from mcv.core.images.pdf import render_pages

        return [
            _finish(page.image, page.label, page.image.size, settings, lossless=True)
            for page in render_pages(data, source.label, settings)
        ]
    decoded = decode(data, fmt, source.label, settings)
    return [
        _finish(
            decoded.image,
            source.label,
            (decoded.width, decoded.height),
            settings,
            orientation=decoded.orientation,
            lossless=decoded.lossless,
            icc=decoded.icc,
            notes=decoded.notes,
        )
    ]


def _finish(
    im,
    label: str,
    upright_size: tuple[int, int],
    settings: PrepareSettings,
    *,
    orientation: int = 1,
    lossless: bool,
    icc: bytes | None = None,
    notes: list[str] | None = None,
) -> PreparedImage:
    """Decoded pixels -> the encoded, upright, in-budget PreparedImage."""
    target = fit_to_budget(*upright_size, settings.max_pixels)
    # Resize before rotating: turning 1.8 MP costs less than turning 12 MP.
    stored_target = target[::-1] if orientation in TRANSPOSING_ORIENTATIONS else target
    try:
        was_cmyk = im.mode == "CMYK"
        rgb = to_rgb(im, icc=icc)
        if rgb.size != stored_target:
            from PIL import Image

            resample = Image.Resampling.LANCZOS if lossless else Image.Resampling.BICUBIC
            rgb = resize_in_strips(rgb, stored_target, resample)
        rgb = _upright(rgb, orientation)
        if icc and not was_cmyk:  # CMYK went through its profile in to_rgb
            rgb = to_srgb(rgb, icc) or rgb
        fmt = choose_format(rgb, lossless_source=lossless)
        data, mime = encode(rgb, fmt, jpeg_quality=settings.jpeg_quality)
    except DECODE_ERRORS as err:
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise InputError(f"{label}: cannot convert the image ({reason})") from None
    return PreparedImage(
        data=data,
        mime=mime,
        width=rgb.width,
        height=rgb.height,
        source_width=upright_size[0],
        source_height=upright_size[1],
        label=label,
        notes=tuple(notes or ()),
    )


def resize_in_strips(im, size: tuple[int, int], resample):
    """`im.resize`, the output cut into RESIZE_STRIPS bands resized side by side.

    Pillow resizes without the GIL, and `box` lets each band read the source
    rows around it, so the bands meet without a seam; pixel values differ from
    a single resize by a few levels of rounding at most (each band places its
    filter from its own box). The band count is fixed, not the machine's core
    count, so an image prepares to the same bytes everywhere.
    """
    width, height = size
    if RESIZE_STRIPS < 2 or width * height < STRIPS_FROM_PIXELS:
        return im.resize(size, resample, reducing_gap=REDUCING_GAP)
    from PIL import Image

    scale = im.height / height
    edges = [round(height * k / RESIZE_STRIPS) for k in range(RESIZE_STRIPS + 1)]
    bands: list = [None] * RESIZE_STRIPS

    def resize_band(k: int) -> None:
        top, bottom = edges[k], edges[k + 1]
        box = (0, top * scale, im.width, bottom * scale)
        bands[k] = im.resize((width, bottom - top), resample, box=box, reducing_gap=REDUCING_GAP)

    helpers = [threading.Thread(target=resize_band, args=(k,), daemon=True) for k in range(1, RESIZE_STRIPS)]
    for helper in helpers:
        helper.start()
    resize_band(0)
    for helper in helpers:
        helper.join()
    if any(band is None for band in bands):
        return im.resize(size, resample, reducing_gap=REDUCING_GAP)  # a band failed: do it the plain way
    out = Image.new(im.mode, size)
    for k, band in enumerate(bands):
        out.paste(band, (0, edges[k]))
    return out


def _upright(im, orientation: int):
    """Apply an EXIF orientation (2-8) to the pixels, as a viewer would."""
    if orientation == 1:
        return im
    from PIL import Image

    method = {
        2: Image.Transpose.FLIP_LEFT_RIGHT,
        3: Image.Transpose.ROTATE_180,
        4: Image.Transpose.FLIP_TOP_BOTTOM,
        5: Image.Transpose.TRANSPOSE,
        6: Image.Transpose.ROTATE_270,
        7: Image.Transpose.TRANSVERSE,
        8: Image.Transpose.ROTATE_90,
    }[orientation]
    return im.transpose(method)


def precheck(source: ImageSource, settings: PrepareSettings) -> None:
    """What can be refused at once, before any engine is asked: the settings,
    a page selection that does not parse, and a file that cannot be read or
    does not start like an image. Decoding is left to `prepare`."""
    check_settings(settings)
    if settings.pages is not None:
        from mcv.core.images.pdf import ALL_PAGES, parse_pages

        if settings.pages.strip().lower() != ALL_PAGES:  # "all" is checked against each PDF's page count
            parse_pages(settings.pages, sys.maxsize, "--pages", settings.max_pages)
    if source.kind == "path":
        head = read_head(str(source.value), source.label, HEAD_BYTES)
        if sniff(head) is None:
            raise InputError(f"{source.label}: {describe_non_image(head)}")


def check_settings(settings: PrepareSettings) -> None:
    """Settings come from flags and config files: refuse nonsense before touching any input."""
    problems = []
    if not (isinstance(settings.max_pixels, int) and settings.max_pixels >= 1):
        problems.append(f"max_pixels must be a positive whole number (got {settings.max_pixels!r})")
    if not (isinstance(settings.jpeg_quality, int) and 1 <= settings.jpeg_quality <= 100):
        problems.append(f"jpeg_quality must be 1-100 (got {settings.jpeg_quality!r})")
    for name in ("max_input_bytes", "max_decoded_pixels", "pdf_dpi", "max_pages"):
        value = getattr(settings, name)
        if not (isinstance(value, (int, float)) and value > 0):
            problems.append(f"{name} must be positive (got {value!r})")
    if problems:
        raise UsageError("image settings: " + "; ".join(problems))
