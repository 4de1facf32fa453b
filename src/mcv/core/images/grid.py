"""MiniCPM-V's LLaVA-UHD slice grid, as llama.cpp's mtmd computes it.

A port of `mtmd_image_preprocessor_llava_uhd::get_slice_instructions` and
`get_best_grid` (tools/mtmd/mtmd-image.cpp) for the MiniCPM-V case (no
resolution pinpoints). mtmd does this arithmetic in single precision, so the
float steps are rounded to float32 here too: near a tie between two grids the
rounding decides, and we want the same answer as the model's runtime.

Pure arithmetic, no imports beyond the standard library.
"""

from __future__ import annotations

import math
import struct

SLICE_SIZE = 448
MAX_SLICES = 9


def _f32(value: float) -> float:
    """`value` rounded to the nearest float32, as a C++ `float` would hold it."""
    return struct.unpack("f", struct.pack("f", value))[0]


def slice_grid(
    width: int, height: int, *, slice_size: int = SLICE_SIZE, max_slices: int = MAX_SLICES
) -> tuple[int, int] | None:
    """The (cols, rows) grid mtmd cuts a `width` x `height` image into; None = no slices.

    mtmd slices whenever either side exceeds the slice size (unlike the HF
    processor, which looks at the area); the model then sees an overview plus
    cols*rows slices.
    """
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if width <= slice_size and height <= slice_size:
        return None
    log_ratio = _f32(math.log(_f32(width / height)))
    area_ratio = _f32(_f32(float(width) * height) / (slice_size * slice_size))
    multiple = min(math.ceil(area_ratio), max_slices)
    return _best_grid(max_slices, multiple, log_ratio)


def _best_grid(max_slices: int, multiple: int, log_ratio: float) -> tuple[int, int]:
    """`get_best_grid`: the factorisation of multiple-1..multiple+1 closest in log aspect ratio."""
    candidates: list[tuple[int, int]] = []
    for count in (multiple - 1, multiple, multiple + 1):
        if count == 1 or count > max_slices:
            continue
        candidates.extend((m, count // m) for m in range(1, count + 1) if count % m == 0)
    best, best_error = (1, 1), math.inf
    for cols, rows in candidates:
        error = _f32(abs(log_ratio - math.log(cols / rows)))
        if error < best_error:  # strict: the first of equal candidates wins, as in mtmd
            best, best_error = (cols, rows), error
    return best


def image_token_count(width: int, height: int, tokens_per_slice: int) -> int:
    """Embeddings the model spends on one image: the overview plus one run per slice.

    `tokens_per_slice` is the resampler's query count (64 from MiniCPM-V 2.6 on,
    96 for Llama3-V 2.5); the <image>/<slice> marker tokens are not counted.
    """
    grid = slice_grid(width, height)
    slices = 0 if grid is None else grid[0] * grid[1]
    return (1 + slices) * tokens_per_slice
