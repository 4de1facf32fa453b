"""What a turn tells its surface, in order, as plain data.

    Routed  ImageReady*  (ThinkingChunk | TextChunk)*  then Done or Failed
    (a structured answer may put `Retrying` and a second run of chunks before the end)

Every turn starts with `Routed`: which engine answers; `fresh` when the
session has just chosen it (once per session and model). `Failed` ends a turn that broke: its
error is the typed McvError (exit code, hint) and `partial` the answer text
that had arrived. Nothing here knows a terminal: the CLI, the chat UI,
batch writers and the MCP server each render these their own way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union

from mcv.core.backends.base import Metrics
from mcv.core.images.types import PreparedImage
from mcv.core.local_pairs import LocalPair
from mcv.errors import McvError


@dataclass(frozen=True)
class Route:
    """Which engine answers which model, and why that one."""

    model: str  # the name asked for
    backend: str  # registry name: "ollama", "llama"
    where: str  # "Ollama at http://…", "in process (llama.cpp)"
    pair: LocalPair | None = None  # the GGUF pair, for in-process engines
    fallback_from: str | None = None  # why `auto` did not use its first choice

    def describe(self) -> str:
        """One line for people, e.g. for a note on stderr."""
        if self.pair is None:
            return f"{self.model} from {self.where}"
        what = self.pair.generation or "the GGUF pair"
        return f"{what} {self.where}, from the {self.pair.source}: {self.pair.llm} + {self.pair.projector.name}"

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"model": self.model, "backend": self.backend, "where": self.where}
        if self.pair is not None:
            document["pair"] = {
                "llm": str(self.pair.llm),
                "mmproj": str(self.pair.projector),
                "source": self.pair.source,
                "generation": self.pair.generation,
            }
        if self.fallback_from:
            document["fallback_from"] = self.fallback_from
        return document


@dataclass(frozen=True)
class Routed:
    route: Route
    fresh: bool = True  # chosen for this turn (False: the session's engine, already reported)


@dataclass(frozen=True)
class ImageReady:
    image: PreparedImage  # its notes say what was done (first frame of a GIF, ...)


@dataclass(frozen=True)
class ThinkingChunk:
    text: str


@dataclass(frozen=True)
class TextChunk:
    text: str


@dataclass(frozen=True)
class Retrying:
    """The answer broke the request's schema or length limit; it is asked once
    more, with `problem` (core/structured.py). `answer` is the rejected text."""

    problem: str
    answer: str


@dataclass(frozen=True)
class Done:
    answer: str
    thinking: str
    done_reason: str | None
    metrics: Metrics | None
    data: Any = None  # the parsed JSON, when the request asked for a schema (core/structured.py)


@dataclass(frozen=True)
class Failed:
    error: McvError
    partial: str = ""


Event = Union[Routed, ImageReady, ThinkingChunk, TextChunk, Retrying, Done, Failed]
