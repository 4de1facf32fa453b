"""How an image is described to people in one line (ask -v, the chat's attach lines, /images)."""

from __future__ import annotations


def size_text(image) -> str:
    """A PreparedImage's size as sent, e.g. `1344x1008 (from 4032x3024)` when preparing shrank it."""
    size = f"{image.width}x{image.height}"
    if (image.width, image.height) != (image.source_width, image.source_height):
        size += f" (from {image.source_width}x{image.source_height})"
    return size
