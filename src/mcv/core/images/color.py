"""Pixel modes and colour spaces -> 8-bit sRGB RGB, the one thing the models expect.

Transparency is flattened on white (what a viewer shows on a light page);
16-bit and float data are scaled, not clipped (Pillow's plain convert("L")
would turn most of a 16-bit image white); CMYK and wide-gamut RGB go through
their embedded ICC profile when there is one.
"""

from __future__ import annotations

import io

WHITE = (255, 255, 255)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N")


def to_rgb(im, *, icc: bytes | None = None):
    """An RGB version of `im` (a PIL image); `icc` is its embedded profile, used for CMYK."""
    from PIL import Image

    if im.mode == "RGB" and "transparency" not in im.info:
        return im
    if im.mode in _SIXTEEN_BIT or im.mode in ("I", "F"):
        im = _wide_to_l(im)
    if im.mode == "CMYK":
        return _cmyk_to_rgb(im, icc)
    if im.mode in ("P", "PA", "L", "LA", "La", "RGB", "RGBA", "RGBa") and _has_alpha(im):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, WHITE)
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    return im.convert("RGB")


def _has_alpha(im) -> bool:
    return im.mode in ("PA", "LA", "La", "RGBA", "RGBa") or "transparency" in im.info


def _wide_to_l(im):
    """16-bit integer or float samples mapped onto 0..255."""
    if im.mode in _SIXTEEN_BIT:
        im = im.convert("I")
    low, high = im.getextrema()
    if im.mode == "I" and 0 <= low and high <= 255:
        scale, offset = 1.0, 0.0
    elif im.mode == "I" and 0 <= low and high <= 65535:
        scale, offset = 1 / 257, 0.0  # 16-bit full range
    elif im.mode == "F" and 0.0 <= low and high <= 1.0:
        scale, offset = 255.0, 0.0  # normalised float data
    elif high > low:
        scale, offset = 255.0 / (high - low), -low * 255.0 / (high - low)
    else:
        scale, offset = 0.0, 0.0
    return im.point(lambda value: value * scale + offset).convert("L")


def _cmyk_to_rgb(im, icc: bytes | None):
    converted = to_srgb(im, icc) if icc else None
    return converted if converted is not None else im.convert("RGB")


def to_srgb(im, icc: bytes | None):
    """`im` converted from its ICC profile to sRGB RGB; None when there is nothing to do or it fails.

    An sRGB-tagged image is left alone (the transform would cost ~15 ms for
    no change); a broken profile is ignored rather than failing the image.
    """
    if not icc or im.mode not in ("RGB", "CMYK"):
        return None
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littlecms
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if im.mode == "RGB" and "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return None
        srgb = ImageCms.createProfile("sRGB")
        return ImageCms.profileToProfile(
            im, profile, srgb, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None
