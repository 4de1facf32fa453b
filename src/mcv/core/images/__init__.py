"""One image pipeline for every surface: sources -> decode -> normalise -> payload.

Public API (import from here):
    ImageSource, PreparedImage, PrepareSettings   (types.py)
    parse_image_arg(arg) -> ImageSource | None    (sources.py)
    prepare(source, settings) -> list[PreparedImage]   (prepare.py)
"""

from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings

__all__ = ["ImageSource", "PreparedImage", "PrepareSettings"]
