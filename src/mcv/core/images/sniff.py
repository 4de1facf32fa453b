"""What a byte string is, judged by its magic bytes alone.

File names and Content-Type headers lie; the first bytes do not. The format
found here is the only one the decoder is allowed to try, which also keeps
Pillow's rarer (and riskier) plugins out of reach of hostile input.
"""

from __future__ import annotations

# Bytes a caller must have for `sniff` to decide (PDF allows junk before the header).
SNIFF_BYTES = 1024

SUPPORTED = "JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC/HEIF, AVIF, PDF"

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1", b"mif2"}
_AVIF_BRANDS = {b"avif", b"avis"}

# Formats stored without loss: flat content from these may stay PNG (encode.py).
LOSSLESS_FORMATS = frozenset({"PNG", "GIF", "BMP", "TIFF", "PDF"})


def sniff(data: bytes) -> str | None:
    """The Pillow format name ("JPEG", "PNG", ...) or "PDF"; None when not a supported image."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[:2] == b"BM" and len(head) >= 26:
        return "BMP"
    if head[4:8] == b"ftyp":
        return _iso_image_format(data)
    if b"%PDF-" in data[:SNIFF_BYTES]:
        return "PDF"
    return None


def _iso_image_format(data: bytes) -> str | None:
    """HEIF or AVIF from the `ftyp` box's major and compatible brands (an MP4 video is neither)."""
    box_size = int.from_bytes(data[0:4], "big")
    if not 16 <= box_size <= 4096:
        return None
    box = data[8:box_size]
    brands = {box[0:4]} | {box[i : i + 4] for i in range(8, len(box) - 3, 4)}
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return None


def is_webp_lossless(data: bytes) -> bool:
    """A WebP whose image bitstream is VP8L (lossless) rather than VP8 (lossy)."""
    pos = 12
    while pos + 8 <= len(data):
        tag = data[pos : pos + 4]
        if tag == b"VP8L":
            return True
        if tag in (b"VP8 ", b"ANMF"):
            return False
        size = int.from_bytes(data[pos + 4 : pos + 8], "little")
        pos += 8 + size + (size & 1)  # chunks are padded to even sizes
    return False


def describe_non_image(data: bytes) -> str:
    """A few words on what `data` is instead of an image, for the error message."""
    if not data:
        return "empty (0 bytes)"
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head[:256]:
        return "an HTML page, not an image"
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in data[:2048].lower()):
        return "an SVG drawing; vector images are not supported (export it as PNG)"
    if data[:4] == b"PK\x03\x04":
        return "a ZIP archive, not an image"
    if data[4:8] == b"ftyp":
        return "a video or unsupported ISO media file, not an image"
    if _looks_like_text(data[:4096]):
        return "text, not an image"
    return f"not a supported image (supported: {SUPPORTED})"


def _looks_like_text(sample: bytes) -> bool:
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as err:
        return err.start >= len(sample) - 3  # cut in the middle of a character
    return True
