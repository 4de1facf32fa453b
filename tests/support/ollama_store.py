"""Ollama's model store on disk, written the way `ollama pull` leaves it (manifest + sha256 blobs)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

MEDIA = "application/vnd.ollama.image."


def write_store_model(models: Path, name_path: str, llm: Path, projector: Path | None = None) -> tuple[Path, Path]:
    """A stored model at manifests/<name_path> (e.g. "registry.ollama.ai/library/llava/13b")
    holding copies of `llm` and, for a vision model, `projector`; returns the (llm, last) blob paths."""
    layers, paths = [], []
    files = (("model", llm), ("projector", projector)) if projector is not None else (("model", llm),)
    for kind, path in files:
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        blob = models / "blobs" / f"sha256-{digest}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        paths.append(blob)
        layers.append({"mediaType": MEDIA + kind, "digest": f"sha256:{digest}", "size": len(data)})
    manifest = models / "manifests" / name_path
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    return paths[0], paths[-1]
