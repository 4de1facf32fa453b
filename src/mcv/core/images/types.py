"""Plain data passed between the image pipeline and the backends."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Literal

# MiniCPM-V's LLaVA-UHD budget: at most 9 slices of 448x448. Above 8*448^2 the
# slice grid depends only on the aspect ratio, so shrinking to this budget
# changes nothing the model sees but the cost (minicpmv.md section 3).
MINICPMV_MAX_PIXELS = 9 * 448 * 448  # 1,806,336

SourceKind = Literal["path", "url", "stdin", "clipboard", "bytes"]


@dataclass(frozen=True)
class ImageSource:
    """Where image bytes come from. `label` is what messages call it."""

    kind: SourceKind
    value: str | bytes  # a path or URL (str), or raw bytes for "bytes"
    label: str


@dataclass(frozen=True)
class PrepareSettings:
    max_pixels: int = MINICPMV_MAX_PIXELS  # output budget; larger images shrink, none grow
    jpeg_quality: int = 90
    max_input_bytes: int = 100_000_000  # refused before decoding
    max_decoded_pixels: int = 250_000_000  # refused before allocating (JPEG: after draft scaling)
    pages: str | None = None  # PDF page selection, e.g. "1-3,5"; None = page 1
    pdf_dpi: int = 144  # highest DPI a PDF page is rendered at; big pages render smaller to fit max_pixels
    max_pages: int = 50  # most PDF pages one source may yield
    download_timeout: float = 60.0  # seconds for a whole URL download


@dataclass(frozen=True)
class PreparedImage:
    """An upright RGB image encoded for a model, plus what was done to it."""

    data: bytes
    mime: str  # "image/jpeg" or "image/png"
    width: int
    height: int
    source_width: int
    source_height: int
    label: str
    notes: tuple[str, ...] = field(default=())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def b64(self) -> str:
        """Bare base64, as Ollama wants it (no `data:` prefix)."""
        return base64.b64encode(self.data).decode("ascii")

    def summary(self) -> dict:
        """What was prepared, without the bytes (for --json, logs, batch records)."""
        return {
            "label": self.label,
            "width": self.width,
            "height": self.height,
            "source_width": self.source_width,
            "source_height": self.source_height,
            "mime": self.mime,
            "bytes": len(self.data),
            "notes": list(self.notes),
        }

    def data_url(self) -> str:
        """A data URL, as OpenAI-compatible servers and llama.cpp handlers want it."""
        return f"data:{self.mime};base64,{self.b64()}"
