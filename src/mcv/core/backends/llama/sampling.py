"""Sampling for the in-process backend: record defaults + Ollama options -> a llama.cpp sampler chain.

Option names and neutral defaults are Ollama's (api/types.go DefaultOptions);
the generation record supplies temperature, top_p, top_k and repeat_penalty
(HF `chat()` values), and the request's options override both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping

from mcv.errors import InputError

RANDOM_SEED = 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: a fresh random seed


@dataclass(frozen=True)
class SamplingPlan:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_penalty: float = 1.1
    repeat_last_n: int = 64
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = RANDOM_SEED
    num_predict: int | None = None  # None = until the context is full
    stop: tuple[str, ...] = field(default=())

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


_FLOATS = ("temperature", "top_p", "min_p", "typical_p", "repeat_penalty", "presence_penalty", "frequency_penalty")
_INTS = ("top_k", "repeat_last_n", "seed", "num_predict")
# What the in-process backend does something with: the sampler's options,
# stop strings, and num_ctx (the model is reloaded at that size). The
# runner options it has no use for (num_gpu, num_batch, ...) are refused.
HONOURED_OPTIONS = frozenset((*_FLOATS, *_INTS, "stop", "num_ctx"))


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"option {name} must be a number, got {value!r}")
    if kind is int and float(value) != int(value):
        raise InputError(f"option {name} must be a whole number, got {value!r}")
    return kind(value)


def plan(generation, options: Mapping[str, Any]) -> SamplingPlan:
    """Sampling for one request: record defaults, then the request's options."""
    sampling = generation.sampling
    result = SamplingPlan(
        temperature=sampling.temperature,
        top_p=sampling.top_p,
        top_k=sampling.top_k,
        repeat_penalty=sampling.repeat_penalty,
        stop=tuple(generation.stop),
    )
    changes: dict[str, Any] = {}
    for name in _FLOATS:
        if options.get(name) is not None:
            changes[name] = _number(name, options[name], float)
    for name in _INTS:
        if options.get(name) is not None:
            changes[name] = _number(name, options[name], int)
    if changes.get("seed", 0) < 0:
        changes["seed"] = RANDOM_SEED
    if changes.get("num_predict") is not None and changes["num_predict"] < 0:
        changes["num_predict"] = None  # -1 (infinite) and -2 (fill context) both end at the context
    if options.get("repeat_last_n") == -1:
        changes["repeat_last_n"] = -1  # llama.cpp reads -1 as "the whole context"
    stop = options.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, (list, tuple)) or not all(isinstance(s, str) for s in stop):
            raise InputError(f"option stop must be a list of strings, got {stop!r}")
        # Ollama: stops given with the request replace the model's.
        changes["stop"] = tuple(stop)
    return replace(result, **changes)


def grammar_for(format: str | dict[str, Any] | None):
    """A LlamaGrammar constraining the answer to JSON (any, or one schema), or None."""
    if format is None or format == "":
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if format == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if not isinstance(format, dict):
        raise InputError(f"format must be 'json' or a JSON schema object, got {format!r}")
    from mcv.core.backends.llama.grammar import schema_to_gbnf

    try:
        return LlamaGrammar.from_string(schema_to_gbnf(format), verbose=False)
    except Exception as err:  # the converter raises bare Exceptions/ValueErrors/asserts for schemas it cannot map
        raise InputError(f"cannot turn the JSON schema into a grammar: {err or type(err).__name__}") from None


def build_sampler(llama, plan: SamplingPlan, grammar=None):
    """The llama.cpp sampler chain (same order as llama-cpp-python's own)."""
    from llama_cpp import _internals

    sampler = _internals.LlamaSampler()
    sampler.add_penalties(
        n_vocab=llama.n_vocab(),
        penalty_last_n=plan.repeat_last_n,
        penalty_repeat=plan.repeat_penalty,
        penalty_freq=plan.frequency_penalty,
        penalty_present=plan.presence_penalty,
    )
    if grammar is not None:
        _add_grammar(sampler, llama, grammar)
    if plan.greedy:
        sampler.add_greedy()
        return sampler
    sampler.add_top_k(plan.top_k)
    sampler.add_typical(plan.typical_p, 1)
    sampler.add_top_p(plan.top_p, 1)
    sampler.add_min_p(plan.min_p, 1)
    sampler.add_temp(plan.temperature)
    sampler.add_dist(plan.seed)
    return sampler


def _add_grammar(sampler, llama, grammar) -> None:
    import llama_cpp

    vocab = llama_cpp.llama_model_get_vocab(llama.model)
    handle = llama_cpp.llama_sampler_init_grammar(vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8"))
    if not handle:  # llama.cpp rejected the grammar text (its parser logs why)
        sampler.close()
        raise InputError("llama.cpp could not use the grammar built from the requested format")
    llama_cpp.llama_sampler_chain_add(sampler.sampler, handle)
