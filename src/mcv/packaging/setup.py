"""`mcv setup`: make the default model usable, doing only what is missing.

Which pair a model name stands for follows mcv.packaging.local_pairs: the
default name `minicpm-v` is any MiniCPM-V pair (2.5 first),
`minicpm-v:4.6-q8_0` exactly that generation and quantisation, a
generation's ollama.com name such as `openbmb/minicpm-v4.5` that generation;
`--generation`/`--quant` ask for a pair explicitly, whatever the name.

With Ollama reachable:
  the model (config `model`, default minicpm-v) has vision -> nothing to do;
  else the pair it stands for is in the Hugging Face cache -> create it (no download);
  else `--generation` given, or a name like minicpm-v:4.6-q8_0 -> fetch that
  pair from Hugging Face, create it;
  else -> pull the name from the Ollama library.
Without Ollama (the in-process llama.cpp backend will run the model):
  the model is in Ollama's store on disk, or its pair is in the HF cache
  -> nothing to do; else fetch its pair (the default generation's for
  minicpm-v); a name that is no MiniCPM-V pair's needs Ollama.

A second run finds everything in place and says so.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

from mcv.core.ollama.names import same_model
from mcv.errors import CapabilityError, ModelNotFound, UsageError
from mcv.packaging.events import Reporter
from mcv.packaging.local_pairs import PairRequest


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
    return _without_ollama(host, model, config.get("model"), options, environ, reporter, approve)


def _approver(options: SetupOptions, confirm: Confirm | None) -> Confirm:
    if options.yes or confirm is None:
        return lambda question: True
    return confirm


def _explicit_request(options: SetupOptions) -> PairRequest | None:
    if options.generation is None and options.quant is None:
        return None
    return PairRequest(options.generation, options.quant)


def _cached(request: PairRequest | None, environ) -> tuple[Path, Path] | None:
    from mcv.packaging import hf_fetch

    if request is None:
        return None
    return hf_fetch.find_cached_pair(request.generation_id, request.quant, environ)


def _download(
    request: PairRequest, environ, reporter, approve, result, *, question: str, announce: str | None = None
) -> tuple[Path, Path]:
    """Ask, then fetch the pair `request` stands for from Hugging Face; record the action.

    `question` and `announce` are templates over {files} and {repo}.
    """
    from mcv.core.units import format_bytes
    from mcv.packaging import hf_fetch

    hub_pair = hf_fetch.hub_pair(request.generation_id, request.quant, environ, note=reporter.note)
    size = f" ({format_bytes(hub_pair.size)})" if hub_pair.size is not None else ""
    if not approve(question.format(files=f"{hub_pair.llm_file} and {hub_pair.projector_file}{size}", repo=hub_pair.repo)):
        raise UsageError("set-up cancelled", hint="or start Ollama (`ollama serve`) and run mcv setup again")
    if announce:
        reporter.note(announce.format(files=hub_pair.files(), repo=hub_pair.repo))
    fetched = hf_fetch.fetch_pair(hub_pair, environ, progress=reporter)
    result.actions.append(f"downloaded {hub_pair.repo}: {hub_pair.files()}")
    return fetched.llm, fetched.projector


def _with_ollama(client, host, model, options, environ, reporter, approve) -> SetupResult:
    from mcv.packaging.create import create_model, load_pair
    from mcv.packaging.local_pairs import pair_request
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

    explicit = _explicit_request(options)
    request = explicit or pair_request(model)
    cached = _cached(request, environ)
    # Hugging Face for a pair asked for by flags or by a precise name
    # (minicpm-v:4.6-q8_0); plain names (minicpm-v, openbmb/minicpm-v4.5) are ollama.com's.
    if cached is None and request is not None and (explicit is not None or request.quant is not None):
        cached = _download(request, environ, reporter, approve, result, question="Download {files} from {repo}?")
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


def _without_ollama(host, model, configured_model, options, environ, reporter, approve) -> SetupResult:
    from mcv.core.config import DEFAULT_MODEL
    from mcv.core.local_pairs import find_pair
    from mcv.modelfile.render import default_tag
    from mcv.packaging import hub_catalog, local_pairs
    from mcv.packaging.create import load_pair

    result = SetupResult("llama")
    explicit = _explicit_request(options)
    if explicit is not None:
        found = _cached(explicit, environ)
    else:
        pair = local_pairs.from_ollama_store(model, environ) or local_pairs.from_hf_cache(model, environ)
        found = (pair.llm, pair.projector) if pair else None  # pulled before, daemon not running now
    if found is None:
        request = explicit or local_pairs.pair_request(model)
        if request is None:
            raise ModelNotFound(
                f"{model} is not in Ollama's store and Ollama is not running at {host} to pull it",
                hint=f"start Ollama (`ollama serve`), or fetch MiniCPM-V: mcv setup --generation {hub_catalog.DEFAULT_GENERATION}",
            )
        found = _download(
            request, environ, reporter, approve, result,
            question=f"Ollama is not running at {host}. Download {{files}} from {{repo}} for the in-process engine?",
            announce=f"Ollama is not running at {host}: downloading {{repo}} ({{files}}) for the in-process engine",
        )
    validated = load_pair(list(found))  # a broken cached pair is reported now, not at the first question
    result.llm, result.projector = found
    result.advice.append(f"Ollama is not running at {host}: mcv ask runs the model in process (llama.cpp)")
    result.advice.append(f"  LLM:       {found[0]}")
    result.advice.append(f"  projector: {found[1]}")
    if importlib.util.find_spec("llama_cpp") is None:
        result.advice.append("  install the engine first: pip install 'mcv[local]'")
    runs_as = model
    named = find_pair(model, local_pairs.SOURCES, environ, None) if explicit is not None else None
    if explicit is not None and (named is None or (named.llm, named.projector) != tuple(found)):
        # --generation/--quant chose a pair `model` does not name: say which name does
        runs_as = f"{DEFAULT_MODEL}:{default_tag(validated)}"
    choose = "" if same_model(runs_as, configured_model) else f" -m {runs_as}"
    result.advice.append(f"mcv ask --backend llama{choose} IMAGE 'question'")
    return result

