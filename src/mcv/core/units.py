"""Sizes for people to read."""

from __future__ import annotations


def format_bytes(count: int | None) -> str:
    """SI units as Ollama and Hugging Face show sizes: 512 bytes, 1.5 KB, 42 MB, 4.9 GB."""
    if count is None:
        return "?"
    if count < 1000:
        return f"{count} bytes"
    size = float(count)
    for unit in ("KB", "MB", "GB", "TB"):
        size /= 1000
        if size < 999.5 or unit == "TB":
            return f"{size:.1f} {unit}" if size < 9.95 else f"{size:.0f} {unit}"
    raise AssertionError("unreachable")


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """`1 file`, `2 files`, `0 files`: a count for people to read (`plural` when it is not noun + s)."""
    return f"{count} {noun}" if count == 1 else f"{count} {plural or noun + 's'}"
