"""PDF pages -> images, with pypdfium2 (PDFium, the renderer in Chrome).

A page is rendered at the largest scale that fits the pixel budget, capped at
`pdf_dpi`: a letter or A4 page fills the ~1.8 MP budget (about 140 DPI, text
stays legible) and a small page such as a receipt is not blown up past the cap.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from typing import Any

from mcv.errors import InputError
from mcv.core.images.types import PrepareSettings

POINTS_PER_INCH = 72.0
_RANGE = re.compile(r"^(\d+)(?:\s*-\s*(\d+))?$")
_pdfium_lock = threading.Lock()  # PDFium is not thread-safe
ALL_PAGES = "all"  # the page selection meaning every page


@dataclass
class RenderedPage:
    image: Any  # PIL.Image.Image, RGB
    number: int  # 1-based
    label: str  # e.g. "report.pdf#page=2"


def parse_pages(spec: str | None, count: int, label: str, max_pages: int) -> list[int]:
    """1-based page numbers from a selection like "1-3,5" (None = page 1; "all"), ascending, no repeats."""
    if spec is None or not spec.strip():
        return [1]
    if spec.strip().lower() == ALL_PAGES:  # every page (a batch's default)
        if count > max_pages:
            raise InputError(f"{label}: {count} pages, more than {max_pages} at once", hint="select some with --pages")
        return list(range(1, count + 1))
    pages: set[int] = set()
    for part in spec.split(","):
        match = _RANGE.match(part.strip())
        if not match:
            raise InputError(f"{label}: bad page selection '{spec}' (write it like 1-3,5)")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if first < 1 or last < first:
            raise InputError(f"{label}: bad page range '{part.strip()}' (pages count from 1, low to high)")
        if last > count:
            raise InputError(f"{label}: there is no page {last} (the PDF has {count} page{'s' * (count != 1)})")
        if last - first + 1 + len(pages) > max_pages:
            raise InputError(f"{label}: more than {max_pages} pages selected", hint="select fewer with --pages")
        pages.update(range(first, last + 1))
    return sorted(pages)


def render_pages(data: bytes, label: str, settings: PrepareSettings) -> list[RenderedPage]:
    """The selected pages of the PDF in `data`, each rendered within the pixel budget."""
    import pypdfium2 as pdfium

    with _pdfium_lock:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as err:
            raise _unreadable(label, err) from None
        try:
            count = len(document)
            if count < 1:
                raise InputError(f"{label}: the PDF has no pages")
            numbers = parse_pages(settings.pages, count, label, settings.max_pages)
            return [_render(document, number, label, settings) for number in numbers]
        except (pdfium.PdfiumError, ValueError, OSError, MemoryError) as err:
            raise InputError(f"{label}: cannot render the PDF ({err})") from None
        finally:
            document.close()


def _render(document, number: int, label: str, settings: PrepareSettings) -> RenderedPage:
    page_label = f"{label}#page={number}"
    page = document[number - 1]
    try:
        width_pt, height_pt = page.get_size()
        if not (width_pt > 0 and height_pt > 0 and math.isfinite(width_pt * height_pt)):
            raise InputError(f"{page_label}: the page has no area ({width_pt}x{height_pt} pt)")
        scale = render_scale(width_pt, height_pt, settings.max_pixels, settings.pdf_dpi)
        bitmap = page.render(scale=scale, rev_byteorder=True)
        try:
            image = bitmap.to_pil().convert("RGB")  # to_pil shares the bitmap's buffer
        finally:
            bitmap.close()
    finally:
        page.close()
    return RenderedPage(image=image, number=number, label=page_label)


def render_scale(width_pt: float, height_pt: float, max_pixels: int, max_dpi: float) -> float:
    """Pixels per point: fill `max_pixels` but stay under `max_dpi`.

    PDFium may round each side up, so the budget allows one extra pixel per
    side: the positive root of (w*s + 1) * (h*s + 1) = max_pixels.
    """
    dpi_scale = max_dpi / POINTS_PER_INCH
    area, perimeter = width_pt * height_pt, width_pt + height_pt
    budget_scale = (math.sqrt(perimeter**2 + 4 * area * (max_pixels - 1)) - perimeter) / (2 * area)
    return min(dpi_scale, budget_scale)


def _unreadable(label: str, err: Exception) -> InputError:
    # pypdfium2 says e.g. "Failed to load document (PDFium: Data format error)."; the
    # reason is PDFium's last recorded error, a global, so it is a hint at best.
    text = str(err)
    if "password" in text.lower():
        return InputError(f"{label}: the PDF is password-protected", hint="remove the password first")
    reason = text.partition("PDFium: ")[2].rstrip(").").strip().lower()
    if not reason or reason == "success":  # PDFium's word for "no usable page tree"
        reason = "broken document structure"
    return InputError(f"{label}: not a readable PDF ({reason})")
