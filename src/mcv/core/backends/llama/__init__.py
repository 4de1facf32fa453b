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
NO_PAIR_HINT = "run a GGUF pair in process: -m PATH.gguf, `mcv config set llama.model PATH`, or `mcv model fetch`"


def open_backend(settings, model: str):
    """The in-process engine on the local pair that is `model` (loaded on first use).

    A pair the user named (a path, the config) that is no MiniCPM-V pair is
    their input error; one found under the model's name elsewhere (another
    model in Ollama's store, say llava) only means this engine lacks it.
    """
    from mcv.core.local_pairs import CONFIG, PATH
    from mcv.errors import InputError, ModelNotFound

    pair = settings.find_pair(model)
    if pair is None:
        raise ModelNotFound(
            f"no local GGUF pair for '{model}'", hint=settings.how_to_get_pair(model) or NO_PAIR_HINT
        )
    from mcv.core.backends.llama.backend import LlamaBackend

    config = settings.config
    try:
        return LlamaBackend(
            pair.llm,
            pair.projector,
            n_ctx=config.get("llama.n_ctx"),
            n_threads=config.get("llama.n_threads"),
            n_gpu_layers=config.get("llama.n_gpu_layers") or 0,
            source=pair.source,
        )
    except InputError as err:
        if pair.source in (PATH, CONFIG):
            raise
        raise ModelNotFound(
            f"'{model}' in the {pair.source} is not a MiniCPM-V pair the in-process engine can run ({err.message})"
        ) from None
