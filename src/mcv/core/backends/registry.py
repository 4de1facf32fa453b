"""The engines mcv can answer with, by name: a new backend is one module plus one entry here.

A backend module exposes `open_backend(settings, model) -> Backend`, which
returns a backend that has `model`, or raises: ServerUnavailable when its
server does not answer, ModelNotFound when it lacks the model (saying what
it has). `--backend`, the `backend` config key and `auto` read this table;
the module is imported only when its backend is chosen.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from mcv.errors import UsageError

AUTO = "auto"


@dataclass(frozen=True)
class BackendEntry:
    name: str
    module: str
    summary: str
    in_auto: bool  # `auto` tries it, in table order
    runs_files: bool  # takes a GGUF path as the model (in-process engines)


BACKENDS: dict[str, BackendEntry] = {
    entry.name: entry
    for entry in (
        BackendEntry("ollama", "mcv.core.backends.ollama", "the Ollama daemon (OLLAMA_HOST, --host)", in_auto=True, runs_files=False),
        BackendEntry("llama", "mcv.core.backends.llama", "in process: llama.cpp on a local GGUF pair", in_auto=True, runs_files=True),
        BackendEntry("openai", "mcv.core.backends.openai", "OpenAI-compatible servers: vLLM, llama-server, LM Studio (--base-url)", in_auto=False, runs_files=False),
    )
}

CHOICES: tuple[str, ...] = (AUTO, *BACKENDS)


def describe_choices() -> str:
    """For --backend's help: every choice, and what auto does."""
    engines = "; ".join(f"{entry.name}: {entry.summary}" for entry in BACKENDS.values())
    tried = " then ".join(entry.name for entry in auto_order())
    return f"{AUTO} (default: {tried}, the first that has the model); {engines}"


def check_choice(name: str) -> str:
    if name not in CHOICES:
        raise UsageError(f"unknown backend {name!r}", hint=f"choose {', '.join(CHOICES)}")
    return name


def auto_order() -> tuple[BackendEntry, ...]:
    return tuple(entry for entry in BACKENDS.values() if entry.in_auto)


def open_backend(entry: BackendEntry, settings, model: str):
    """Open the backend of `entry` for `model` (see the module docstring for what it raises)."""
    return importlib.import_module(entry.module).open_backend(settings, model)
