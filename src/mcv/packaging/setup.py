"""`mcv setup`: make the default model usable, doing only what is missing.

With Ollama reachable:
  the model (config `model`, default minicpm-v) has vision -> nothing to do;
  else a GGUF pair already in the Hugging Face cache -> create it (no download);
  else `--generation` given -> fetch that pair from Hugging Face, create it;
  else -> pull the name from the Ollama library.
Without Ollama (the in-process llama.cpp backend will run the model):
  the model is in Ollama's store on disk, or a pair is in the HF cache
  -> nothing to do; else fetch the default generation's pair.

A second run finds everything in place and says so.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from mcv.errors import CapabilityError, ModelNotFound, UsageError
from mcv.packaging.events import Reporter


@dataclass
class SetupResult:
    backend: str  # "ollama" | "llama"
    model: str | None = None  # Ollama model name (ollama backend)
    llm: Path | None = None  # GGUF pair (llama backend)
    projector: Path | None = None
    actions: list[str] = field(default_factory=list)  # what this run did; empty = nothing to do
    advice: list[str] = field(default_factory=list)  # how to use the result

    @property
    def changed(self) -> bool:
        return bool(self.actions)


@dataclass
class SetupOptions:
    model: str | None = None
    host: str | None = None
    generation: str | None = None
    quant: str | None = None
    yes: bool = False


Confirm = Callable[[str], bool]


def run_setup(
    environ: Mapping[str, str],
    options: SetupOptions,
    *,
    reporter: Reporter | None = None,
    confirm: Confirm | None = None,
) -> SetupResult:
    from mcv.core.config import load_config
    from mcv.core.ollama.client import OllamaClient
    from mcv.core.ollama.host import resolve_host

    reporter = reporter or Reporter()
    config = load_config(environ)
    model = options.model or config.get("model")
    host = resolve_host(options.host, environ, config.get("host"))
    approve = _approver(options, confirm)
    with OllamaClient(host, environ=environ) as client:
        if client.is_running():
            return _with_ollama(client, host, model, options, environ, reporter, approve)
    return _without_ollama(host, model, options, environ, reporter, approve)


def _approver(options: SetupOptions, confirm: Confirm | None) -> Confirm:
    if options.yes or confirm is None:
        return lambda question: True
    return confirm


def _with_ollama(client, host, model, options, environ, reporter, approve) -> SetupResult:
    from mcv.packaging import hf_fetch, hub_catalog
    from mcv.packaging.create import create_model, load_pair
    from mcv.packaging.pull import pull_model

    result = SetupResult("ollama", model=model)
    try:
        capabilities = client.capabilities(model)
    except ModelNotFound:
        capabilities = None
    if capabilities is not None:
        if "vision" not in capabilities:
            raise CapabilityError(
                f"Ollama has a model {model} but it has no vision capability",
                hint="remove it (`mcv model rm`) or choose another with --model",
            )
        result.advice.append(f"mcv ask IMAGE 'question'   (model {model} at {host})")
        return result

    cached = hf_fetch.find_cached_pair(options.generation, options.quant, environ)
    if cached is None and options.generation is not None:
        hub_pair = hub_catalog.hub_pair(options.generation, options.quant)
        if not approve(f"Download {hub_pair.llm_file} and {hub_pair.projector_file} from {hub_pair.repo}?"):
            raise UsageError("set-up cancelled")
        fetched = hf_fetch.fetch_pair(hub_pair, environ, progress=reporter)
        cached = (fetched.llm, fetched.projector)
        result.actions.append(f"downloaded {hub_pair.repo}: {hub_pair.llm_file}, {hub_pair.projector_file}")
    if cached is not None:
        pair = load_pair(list(cached))
        made = create_model(client, pair, name=model, host=host, reporter=reporter, environ=environ)
        result.actions.append(f"created {', '.join(made.created) or made.names[0]} in Ollama from {cached[0].name}")
    else:
        if not approve(f"Pull {model} from the Ollama library?"):
            raise UsageError("set-up cancelled")
        try:
            pulled = pull_model(client, model, reporter=reporter)
        except ModelNotFound:
            raise ModelNotFound(
                f"{model} is neither in Ollama nor in the Ollama library",
                hint="build it from Hugging Face files: mcv setup --generation 2.5",
            ) from None
        if not pulled.vision:
            raise CapabilityError(f"pulled {model}, but it has no vision capability", hint="choose a vision model")
        result.actions.append(f"pulled {model} from the Ollama library")
    result.advice.append(f"mcv ask IMAGE 'question'   (model {model} at {host})")
    return result


def _without_ollama(host, model, options, environ, reporter, approve) -> SetupResult:
    from mcv.packaging import hf_fetch, hub_catalog, store
    from mcv.packaging.create import load_pair

    result = SetupResult("llama")
    found = None
    if options.generation is None and options.quant is None:
        found = store.model_files(model, environ=environ)  # pulled before, daemon not running now
    if found is None:
        found = hf_fetch.find_cached_pair(options.generation, options.quant, environ)
    if found is None:
        hub_pair = hub_catalog.hub_pair(options.generation, options.quant)
        if not approve(
            f"Ollama is not running at {host}. Download {hub_pair.llm_file} and "
            f"{hub_pair.projector_file} from {hub_pair.repo} for the in-process engine?"
        ):
            raise UsageError("set-up cancelled", hint="or start Ollama (`ollama serve`) and run mcv setup again")
        reporter.note(
            f"Ollama is not running at {host}: downloading {hub_pair.repo} "
            f"({hub_pair.llm_file}, {hub_pair.projector_file}) for the in-process engine"
        )
        fetched = hf_fetch.fetch_pair(hub_pair, environ, progress=reporter)
        found = (fetched.llm, fetched.projector)
        result.actions.append(f"downloaded {hub_pair.repo}: {hub_pair.llm_file}, {hub_pair.projector_file}")
    load_pair(list(found))  # a broken cached pair is reported now, not at the first question
    result.llm, result.projector = found
    result.advice.append(f"Ollama is not running at {host}: mcv ask runs the model in process (llama.cpp)")
    result.advice.append(f"  LLM:       {found[0]}")
    result.advice.append(f"  projector: {found[1]}")
    if importlib.util.find_spec("llama_cpp") is None:
        result.advice.append("  install the engine first: pip install 'mcv[local]'")
    result.advice.append("mcv ask --backend llama IMAGE 'question'")
    return result
