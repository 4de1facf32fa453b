"""Request options: Ollama's names and JSON types (api/types.go `Options`/`Runner`).

Every backend takes options under these names (the llama.cpp backend maps
them to its sampler), so the vocabulary lives in the core.

Ollama ignores an unknown option key with only a log line on the server, so
a typo would silently change nothing; mcv refuses it up front instead.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from mcv.errors import UsageError

INT, FLOAT, BOOL, STRINGS = "integer", "number", "boolean", "list of strings"
_ARTICLE = {INT: "an", FLOAT: "a", BOOL: "a", STRINGS: "a"}

OPTION_TYPES: dict[str, str] = {
    # Runner: fixed when the model is loaded
    "num_ctx": INT,
    "num_batch": INT,
    "num_gpu": INT,
    "main_gpu": INT,
    "use_mmap": BOOL,
    "num_thread": INT,
    "draft_num_predict": INT,
    # Predict: per request
    "num_keep": INT,
    "seed": INT,
    "num_predict": INT,
    "top_k": INT,
    "top_p": FLOAT,
    "min_p": FLOAT,
    "typical_p": FLOAT,
    "repeat_last_n": INT,
    "temperature": FLOAT,
    "repeat_penalty": FLOAT,
    "presence_penalty": FLOAT,
    "frequency_penalty": FLOAT,
    "stop": STRINGS,
}


# Values outside these make no sense to any engine (a context of -1 tokens, a
# negative temperature); Ollama would pass them on and fail, or misbehave, later.
# (lowest, highest); None: no bound. -1 and -2 are Ollama's own markers where kept.
OPTION_RANGES: dict[str, tuple[float | None, float | None]] = {
    "num_ctx": (1, None),
    "num_batch": (1, None),
    "num_thread": (0, None),
    "num_keep": (-1, None),  # -1: keep the whole prompt
    "num_predict": (-2, None),  # -1: no limit, -2: fill the context
    "repeat_last_n": (-1, None),  # -1: num_ctx
    "top_k": (0, None),
    "top_p": (0, 1),
    "min_p": (0, 1),
    "typical_p": (0, 1),
    "temperature": (0, None),
    "repeat_penalty": (0, None),
}


def check_options(options: Mapping[str, Any]) -> None:
    """Raise UsageError for a key Ollama does not know or a value it would reject."""
    for key, value in options.items():
        kind = OPTION_TYPES.get(key)
        if kind is None:
            known = ", ".join(sorted(OPTION_TYPES))
            raise UsageError(f"unknown option '{key}'", hint=f"known options: {known}")
        if value is None:
            continue
        if not _fits(kind, value):
            raise UsageError(f"option '{key}' must be {_ARTICLE[kind]} {kind}, not {json.dumps(value)}")
        low, high = OPTION_RANGES.get(key, (None, None))
        if low is not None and value < low:
            raise UsageError(f"option '{key}' must be at least {low}, not {json.dumps(value)}")
        if high is not None and value > high:
            raise UsageError(f"option '{key}' must be at most {high}, not {json.dumps(value)}")


def _fits(kind: str, value: Any) -> bool:
    if kind == BOOL:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False  # JSON true is not a number for Go
    if kind == INT:
        # Go accepts a JSON number and truncates it; a fraction is surely a mistake.
        return isinstance(value, int) or (isinstance(value, float) and value.is_integer())
    if kind == FLOAT:
        return isinstance(value, (int, float))
    return isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value)
