"""Encode the prepared image: byte-for-byte deterministic, no metadata.

The format rule: JPEG, except for flat content from a lossless source, which
stays PNG. "Flat" means few distinct colours (at most FLAT_MAX_COLOURS after
resizing): screenshots, scanned-to-PNG receipts, diagrams and rendered PDF
text, where JPEG's 8x8 blocks and halved chroma smear thin glyph strokes and
coloured text. Photographs have hundreds of thousands of colours, so a photo
that happens to be a PNG still goes as JPEG, at a tenth of the bytes. A lossy
source is never turned into PNG: its detail is already gone, and PNG would
only add bytes.
"""

from __future__ import annotations

import io

# Anti-aliased text on a few flat UI colours stays within a few thousand
# colours; camera noise alone exceeds this many on a 1.8 MP image.
FLAT_MAX_COLOURS = 1 << 15
JPEG_SUBSAMPLING = "4:2:0"  # fixed, so output never depends on Pillow's quality-dependent default
PNG_COMPRESS_LEVEL = 6


def choose_format(im, *, lossless_source: bool) -> str:
    """ "PNG" for flat images from lossless sources, else "JPEG" (see the module docstring)."""
    if lossless_source and im.getcolors(FLAT_MAX_COLOURS) is not None:
        return "PNG"
    return "JPEG"


def encode(im, fmt: str, *, jpeg_quality: int) -> tuple[bytes, str]:
    """(data, mime) for an RGB PIL image; the same pixels and settings always give the same bytes."""
    im.info = {}  # Pillow's PNG writer copies ICC, EXIF, dpi and transparency from here
    buffer = io.BytesIO()
    if fmt == "PNG":
        im.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
        return buffer.getvalue(), "image/png"
    im.save(
        buffer,
        format="JPEG",
        quality=jpeg_quality,
        subsampling=JPEG_SUBSAMPLING,
        # Standard Huffman tables: optimising them saves ~8% of ~300 KB but
        # doubles the encode time, and the bytes mostly travel a local socket.
        optimize=False,
        progressive=False,
    )
    return buffer.getvalue(), "image/jpeg"
