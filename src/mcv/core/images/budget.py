"""How big an image should be: the pixel budget, keeping the aspect ratio and the slice grid.

MiniCPM-V sees at most 9 slices of 448x448, so past about 1.8 MP extra pixels
only cost time and bytes (minicpmv.md section 3). Shrinking to the budget keeps
what the model sees when the slice grid stays the same; rounding the sides to
whole pixels nudges the aspect ratio a little, and right at a tie between two
grids that nudge could flip the grid, so `fit_to_budget` then picks a size a
pixel or two away that keeps it.
"""

from __future__ import annotations

import math

from mcv.core.images.grid import slice_grid


def fit_to_budget(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """The largest size within `max_pixels` with (about) the same aspect ratio; never upscales."""
    if width * height <= max_pixels:
        return width, height
    scale = math.sqrt(max_pixels / (width * height))
    new_w = max(1, math.floor(width * scale))
    new_h = max(1, math.floor(height * scale))
    # A side clamped to 1 px (extreme strips) can push the other over budget.
    if new_w * new_h > max_pixels:
        if new_w >= new_h:
            new_w = max(1, max_pixels // new_h)
        else:
            new_h = max(1, max_pixels // new_w)
    wanted = slice_grid(width, height)
    if slice_grid(new_w, new_h) == wanted:
        return new_w, new_h
    return _nearby_size_with_grid(width, height, new_w, new_h, max_pixels, wanted)


def _nearby_size_with_grid(
    width: int, height: int, new_w: int, new_h: int, max_pixels: int, wanted: tuple[int, int] | None
) -> tuple[int, int]:
    """A size within a few pixels of (new_w, new_h) that keeps the grid `wanted`.

    Falls back to (new_w, new_h) when none does (a budget so small that the
    grid must change, e.g. a user-chosen --max-pixels below 8 slices).
    """
    best: tuple[int, int] | None = None
    for dw in range(-3, 4):
        for dh in range(-3, 4):
            w, h = new_w + dw, new_h + dh
            if not (1 <= w <= width and 1 <= h <= height) or w * h > max_pixels:
                continue
            if slice_grid(w, h) != wanted:
                continue
            if best is None or w * h > best[0] * best[1]:
                best = (w, h)
    return best if best is not None else (new_w, new_h)
