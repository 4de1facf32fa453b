"""--backend auto|ollama|llama: which engine answers.

auto: Ollama when the daemon answers AND has the model; otherwise the model
in process from a local GGUF pair, looked for in this order:
  1. the config keys llama.model + llama.mmproj (paths),
  2. Ollama's own model store (the blobs of `model`, daemon not needed),
  3. the Hugging Face cache (a pair `mcv model fetch` downloaded).
ollama: the daemon only (no fallback). llama: in process only (the daemon is
never contacted).

Nothing heavy is imported here: llama_cpp loads only when the in-process
backend answers its first request.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from mcv.core.backends.base import Backend
from mcv.errors import BackendError, UsageError

KINDS = ("auto", "ollama", "llama")

NO_MODEL_HINT = (
    "start Ollama with the model (`ollama serve`, then `mcv setup`), "
    "download a GGUF pair with `mcv model fetch`, "
    "or point llama.model and llama.mmproj at one (`mcv config set llama.model PATH`)"
)


@dataclass(frozen=True)
class LocalPair:
    llm: Path
    projector: Path
    source: str  # "config", "ollama store", "hugging face cache"


def open_backend(
    kind: str = "auto",
    *,
    model: str,
    host: str | None = None,
    environ: Mapping[str, str] | None = None,
    config: Any = None,
) -> Backend:
    """The backend to use for `model`; raises an McvError saying what to do when there is none."""
    import os

    environ = os.environ if environ is None else environ
    config = config if config is not None else {}
    if kind not in KINDS:
        raise UsageError(f"unknown backend {kind!r}", hint="choose auto, ollama or llama")
    if kind == "llama":
        return _llama_backend(model, environ, config)
    ollama = _ollama_backend(_ollama_client(host, environ, config))
    if kind == "ollama" or _ollama_has(ollama, model):
        return ollama
    ollama.close()
    pair = find_local_pair(model, environ, config)
    if pair is None:
        raise BackendError(
            f"no way to run '{model}': Ollama at {ollama.client.base_url} is not running or lacks it, "
            "and no local GGUF pair was found",
            hint=NO_MODEL_HINT,
        )
    return llama_backend_for(pair, config)


def _ollama_client(host: str | None, environ: Mapping[str, str], config: Any):
    from mcv.core.ollama.client import OllamaClient

    return OllamaClient.from_environment(environ, flag=host, config_host=_get(config, "host"))


def _ollama_backend(client) -> Backend:
    from mcv.core.backends.ollama import OllamaBackend

    return OllamaBackend(client)


def _ollama_has(backend, model: str) -> bool:
    """One /api/show answers both "is the daemon up" and "has it the model";
    the backend keeps the answer, so the caller's capability check is free."""
    try:
        backend.capabilities(model)
    except BackendError:  # down, no such model, or erroring: as good as none for `auto`
        return False
    return True


def _llama_backend(model: str, environ: Mapping[str, str], config: Any) -> Backend:
    pair = find_local_pair(model, environ, config)
    if pair is None:
        raise BackendError(f"no local GGUF pair found for '{model}' (--backend llama)", hint=NO_MODEL_HINT)
    return llama_backend_for(pair, config)


def llama_backend_for(pair: LocalPair, config: Any) -> Backend:
    from mcv.core.backends.llama.backend import LlamaBackend

    return LlamaBackend(
        pair.llm,
        pair.projector,
        n_ctx=_get(config, "llama.n_ctx"),
        n_threads=_get(config, "llama.n_threads"),
        n_gpu_layers=_get(config, "llama.n_gpu_layers") or 0,
    )


# --- finding a local pair ----------------------------------------------------------


def find_local_pair(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    """The first GGUF pair found (config, Ollama's store, HF cache), or None."""
    for _, finder in PAIR_SOURCES:
        pair = finder(model, environ, config)
        if pair is not None:
            return pair
    return None


def _from_config(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    llm, mmproj = _get(config, "llama.model"), _get(config, "llama.mmproj")
    if not llm and not mmproj:
        return None
    if not llm or not mmproj:
        missing = "llama.mmproj" if llm else "llama.model"
        raise UsageError(
            f"{missing} is not set (llama.model and llama.mmproj go together)",
            hint=f"mcv config set {missing} PATH",
        )
    paths = [Path(str(p)).expanduser() for p in (llm, mmproj)]
    for key, path in zip(("llama.model", "llama.mmproj"), paths):
        if not path.is_file():
            raise UsageError(f"{key} points at {path}, which is not a file", hint=f"mcv config set {key} PATH")
    return LocalPair(paths[0], paths[1], "config")


def _from_ollama_store(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    model_files = _optional("mcv.packaging.store", "model_files")
    if model_files is None:
        return None
    found = model_files(model, environ=environ)
    return LocalPair(Path(found[0]), Path(found[1]), "ollama store") if found else None


def _from_hf_cache(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    find_cached_pair = _optional("mcv.packaging.hf_fetch", "find_cached_pair")
    if find_cached_pair is None:
        return None
    found = find_cached_pair(environ=environ)
    return LocalPair(Path(found[0]), Path(found[1]), "hugging face cache") if found else None


# (source, finder) in the order `auto` tries them; `mcv doctor` reports each.
PAIR_SOURCES: tuple[tuple[str, Callable[[str, Mapping[str, str], Any], LocalPair | None]], ...] = (
    ("config", _from_config),
    ("ollama store", _from_ollama_store),
    ("hugging face cache", _from_hf_cache),
)


def _optional(module_name: str, attribute: str):
    """A function from a module that may not be installed/written yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name:
            raise
        return None
    return getattr(module, attribute, None)


def _get(config: Any, key: str) -> Any:
    try:
        return config.get(key)
    except KeyError:
        return None
