"""Facts about an Ollama model from `/api/show`: which MiniCPM-V generation, which projector."""

from __future__ import annotations

from typing import Mapping


def generation_of(show: Mapping):
    """The generation record matching a model's LLM and projector, or None."""
    from mcv.modelfile import generations

    model_info = show.get("model_info") or {}
    projector = show.get("projector_info") or {}
    if not projector:
        return None
    arch = model_info.get("general.architecture")
    projector_type = projector.get("clip.projector_type")
    version = projector.get("clip.minicpmv_version")
    if projector_type == "resampler" and version is None:
        version = 2  # llama.cpp's default for old files without the key
    candidates = generations.by_projector(str(projector_type), version if isinstance(version, int) else None)
    matching = [g for g in candidates if arch is None or g.llm_arch == arch]
    return matching[0] if len(matching) == 1 else None


def projector_summary(show: Mapping) -> str | None:
    info = show.get("projector_info") or {}
    if not info:
        return None
    parts = []
    for key, label in (
        ("general.architecture", "arch"),
        ("clip.projector_type", "type"),
        ("clip.minicpmv_version", "minicpmv_version"),
        ("clip.vision.block_count", "blocks"),
        ("clip.vision.image_size", "image_size"),
    ):
        if key in info:
            parts.append(f"{label}={info[key]}")
    return ", ".join(parts) or "present"
