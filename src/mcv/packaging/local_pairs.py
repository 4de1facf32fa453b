"""The packaging room's pair sources: Ollama's store on disk and the Hugging Face cache.

Each answers only for the model name that IS its pair (mcv.core.local_pairs):

- "ollama store": the stored Ollama model of exactly that name (Ollama's
  case-insensitive matching), when it has a projector layer;
- "hugging face cache": a pair `mcv model fetch` downloaded, under the names
  mcv gives such a pair:
    minicpm-v (= minicpm-v:latest, `mcv model create`'s default name)
        -> any cached supported generation, 2.5 first, Q4_K_M first;
    minicpm-v:<generation>-<quant tag> (`render.default_tag`: 2.5-q4_K_M,
        4.6-q8_0, 2.6-fp16) -> exactly that generation and quantisation;
    a generation's model on ollama.com (`Generation.ollama_registry_model`,
        e.g. openbmb/minicpm-v4.5) -> that generation.
  Any other name (llava:13b) has no pair here, even with pairs in the cache.

No network; huggingface_hub is not imported (the HF cache is plain files).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from mcv.core.local_pairs import LocalPair, PairSource

OLLAMA_STORE, HF_CACHE = "ollama store", "hugging face cache"

# render.default_tag writes these labels in Ollama's library spelling; every
# other label is the upper-case label with a lower-case head (q4_K_M).
_TAG_LABELS = {"fp16": "F16", "fp32": "F32", "bf16": "BF16"}


@dataclass(frozen=True)
class PairRequest:
    """The pair a model name stands for; None = any (the default first)."""

    generation_id: str | None
    quant: str | None


def pair_request(model: str) -> PairRequest | None:
    """What `model` names among the pairs mcv fetches, or None for any other name."""
    from mcv.core.config import DEFAULT_MODEL
    from mcv.core.ollama.names import ModelName, same_model
    from mcv.errors import InputError
    from mcv.modelfile import generations

    if same_model(model, DEFAULT_MODEL):
        return PairRequest(None, None)
    try:
        name, default = ModelName.parse(model), ModelName.parse(DEFAULT_MODEL)
    except InputError:
        return None  # not a model name at all
    if (name.host.lower(), name.namespace.lower(), name.model.lower()) == (
        default.host, default.namespace, default.model
    ):
        tag = name.tag.lower()
        for record in generations.SUPPORTED:
            prefix = f"{record.id.lower()}-"
            if tag.startswith(prefix) and len(tag) > len(prefix):
                quant_tag = tag[len(prefix) :]
                return PairRequest(record.id, _TAG_LABELS.get(quant_tag, quant_tag.upper()))
        return None
    for record in generations.SUPPORTED:
        if record.ollama_registry_model and same_model(model, record.ollama_registry_model):
            return PairRequest(record.id, None)
    return None


def from_ollama_store(model: str, environ: Mapping[str, str], config: Any = None) -> LocalPair | None:
    """The stored Ollama model `model` (llm + projector blobs); None if absent or text-only."""
    from mcv.packaging import store

    found = store.model_files(model, environ=environ)
    return LocalPair(found[0], found[1], OLLAMA_STORE) if found else None


def from_hf_cache(model: str, environ: Mapping[str, str], config: Any = None) -> LocalPair | None:
    """The cached Hugging Face pair that `model` names (see the module docstring), or None."""
    from mcv.packaging.hf_fetch import find_cached_pair

    request = pair_request(model)
    if request is None:
        return None
    found = find_cached_pair(request.generation_id, request.quant, environ)
    return LocalPair(found[0], found[1], HF_CACHE) if found else None


def fetch_command(model: str) -> str | None:
    """How to download the pair that `model` names, when it is one of mcv's names."""
    request = pair_request(model)
    if request is None:
        return None
    words = ["mcv model fetch"]
    if request.generation_id:
        words.append(request.generation_id)
    if request.quant:
        words.append(f"--quant {request.quant}")
    return f"download it with `{' '.join(words)}`"


SOURCES: tuple[PairSource, ...] = (
    PairSource(OLLAMA_STORE, from_ollama_store),
    PairSource(HF_CACHE, from_hf_cache, how_to_get=fetch_command),
)
