"""Read Ollama's model store on disk: manifests -> LLM and projector blobs.

Layout (Ollama `manifest/paths.go`):
  $OLLAMA_MODELS/manifests/<host>/<namespace>/<model>/<tag>   JSON manifest
  $OLLAMA_MODELS/blobs/sha256-<hex>                           layer contents
A name is `[host/][namespace/]model[:tag]`, defaulting to
registry.ollama.ai / library / latest.

Used by `mcv model path` and by the in-process backend, which can run a model
already pulled into Ollama without a daemon.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mcv.core.ollama.names import ModelName
from mcv.errors import InputError, ModelNotFound

MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_PROJECTOR = "application/vnd.ollama.image.projector"

_DIGEST = re.compile(r"^sha256[:-]([0-9a-f]{64})$")


@dataclass(frozen=True)
class StoredModel:
    name: ModelName
    manifest: Path
    llm: Path
    projector: Path | None
    layers: tuple[dict, ...]


def default_models_dirs(environ: Mapping[str, str] | None = None) -> list[Path]:
    """Where Ollama keeps models: $OLLAMA_MODELS, else the user's and the Linux service's default."""
    environ = os.environ if environ is None else environ
    override = environ.get("OLLAMA_MODELS")
    if override:
        return [Path(override).expanduser()]
    home = environ.get("HOME") or str(Path.home())
    return [Path(home) / ".ollama" / "models", Path("/usr/share/ollama/.ollama/models")]


def read_model(name: str, models_dir: Path | None = None, environ: Mapping[str, str] | None = None) -> StoredModel:
    """The stored model `name`; ModelNotFound if no manifest, InputError if broken."""
    parsed = ModelName.parse(name)
    dirs = [Path(models_dir)] if models_dir is not None else default_models_dirs(environ)
    for directory in dirs:
        manifest = _find_manifest(directory, parsed)
        if manifest is not None:
            return _load(parsed, manifest, directory)
    where = ", ".join(str(d) for d in dirs)
    raise ModelNotFound(
        f"model {parsed.short()!r} is not in the Ollama store ({where})",
        hint="pull or create it first, or set OLLAMA_MODELS to the store Ollama uses",
    )


def model_files(
    name: str, models_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> tuple[Path, Path] | None:
    """(llm, projector) blob paths of a stored vision model, or None.

    None when the model is absent or has no projector; a broken store raises
    InputError (the in-process fallback should say so, not guess).
    """
    try:
        stored = read_model(name, models_dir, environ)
    except ModelNotFound:
        return None
    if stored.projector is None:
        return None
    return stored.llm, stored.projector


def _find_manifest(directory: Path, name: ModelName) -> Path | None:
    exact = directory / name.manifest_relpath()
    if exact.is_file():
        return exact
    # Ollama matches names case-insensitively (server `getExistingName`).
    current = directory
    for part in name.manifest_relpath().parts:
        try:
            entries = {entry.lower(): entry for entry in os.listdir(current)}
        except OSError:
            return None
        found = entries.get(part.lower())
        if found is None:
            return None
        current = current / found
    return current if current.is_file() else None


def _load(name: ModelName, manifest: Path, directory: Path) -> StoredModel:
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise InputError(f"unreadable Ollama manifest {manifest}: {err}") from None
    layers = data.get("layers") if isinstance(data, dict) else None
    if not isinstance(layers, list):
        raise InputError(f"Ollama manifest {manifest} has no layers")
    llm = projector = None
    for layer in layers:
        if not isinstance(layer, dict):
            continue
        media = layer.get("mediaType")
        if media == MEDIA_MODEL and llm is None:
            llm = _blob_path(directory, layer, manifest)
        elif media == MEDIA_PROJECTOR and projector is None:
            projector = _blob_path(directory, layer, manifest)  # Ollama uses projectors[0] only
    if llm is None:
        raise InputError(f"Ollama model {name.short()!r} has no GGUF model layer (manifest {manifest})")
    return StoredModel(name, manifest, llm, projector, tuple(layers))


def _blob_path(directory: Path, layer: dict, manifest: Path) -> Path:
    digest = str(layer.get("digest", ""))
    match = _DIGEST.match(digest)
    if not match:
        raise InputError(f"bad layer digest {digest!r} in {manifest}")
    path = directory / "blobs" / f"sha256-{match.group(1)}"
    try:
        size = path.stat().st_size
    except OSError:
        raise InputError(
            f"blob {path.name} listed in {manifest} is missing",
            hint="the Ollama store is incomplete; pull or create the model again",
        ) from None
    expected = layer.get("size")
    if isinstance(expected, int) and expected != size:
        raise InputError(f"blob {path} has {size} bytes, manifest says {expected}")
    return path
