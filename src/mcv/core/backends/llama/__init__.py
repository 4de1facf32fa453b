"""The in-process engine: MiniCPM-V through llama-cpp-python's mtmd, with prefix reuse.

backend.py   LlamaBackend (the Backend protocol; loads on first use)
native.py    the only ctypes code: mtmd tokenise/evaluate, sampling calls, log routing
prompt.py    chat prompts rendered from a generation record (no BOS; images as parts)
kv_cache.py  what the KV cache holds, so a new turn evaluates only what is new
sampling.py  Ollama options -> a llama.cpp sampler chain; JSON schema -> grammar
grammar.py   JSON schema -> GBNF fixes over llama-cpp-python's converter
output.py    the answer stream: stop strings held back, <think> split off

Nothing here is imported until the backend answers its first request.
"""

from __future__ import annotations


NAME = "llama"
# A pair answers only to its own names (core/local_pairs.py), so the hint says how to name one.
NO_PAIR_HINT = (
    "run a GGUF pair in process: -m PATH.gguf (or a folder holding the pair), "
    "`mcv config set llama.model PATH` and llama.mmproj, or `mcv model fetch` then -m minicpm-v"
)


def open_backend(settings, model: str):
    """The in-process engine on the local pair that is `model` (loaded on first use)."""
    from mcv.errors import ModelNotFound

    pair = settings.find_pair(model)
    if pair is None:
        raise ModelNotFound(f"no local GGUF pair is the model '{model}'", hint=NO_PAIR_HINT)
    from mcv.core.backends.llama.backend import LlamaBackend

    config = settings.config
    return LlamaBackend(
        pair.llm,
        pair.projector,
        n_ctx=config.get("llama.n_ctx"),
        n_threads=config.get("llama.n_threads"),
        n_gpu_layers=config.get("llama.n_gpu_layers") or 0,
        source=pair.source,
    )
