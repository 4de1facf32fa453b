"""The one backend protocol every engine implements and every surface uses.

A backend takes a `ChatRequest` (messages with prepared images, options, an
optional JSON schema) and yields `Chunk`s; the last chunk has `done=True` and
the `Metrics`. What a backend supports is declared in `Capabilities`, so
callers refuse early instead of failing mid-request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Literal, Protocol, runtime_checkable

from mcv.core.images.types import PreparedImage

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    images: tuple[PreparedImage, ...] = ()


@dataclass
class ChatRequest:
    model: str
    messages: list[Message]
    # Ollama option names (temperature, top_p, num_ctx, num_predict, seed, ...);
    # other backends map what they understand and ignore the rest.
    options: dict[str, Any] = field(default_factory=dict)
    # None, "json", or a JSON-schema dict: constrains the answer.
    format: str | dict[str, Any] | None = None
    keep_alive: str | int | None = None
    think: bool | None = None
    # False asks the backend for the whole answer at once; it still yields Chunks.
    stream: bool = True


@dataclass
class Metrics:
    prompt_eval_count: int | None = None
    prompt_eval_duration_ns: int | None = None
    eval_count: int | None = None
    eval_duration_ns: int | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None

    @property
    def tokens_per_second(self) -> float | None:
        if not self.eval_count or not self.eval_duration_ns:
            return None
        return self.eval_count / self.eval_duration_ns * 1e9

    def as_dict(self) -> dict[str, Any]:
        return {
            "prompt_eval_count": self.prompt_eval_count,
            "prompt_eval_duration_ns": self.prompt_eval_duration_ns,
            "eval_count": self.eval_count,
            "eval_duration_ns": self.eval_duration_ns,
            "total_duration_ns": self.total_duration_ns,
            "load_duration_ns": self.load_duration_ns,
            "tokens_per_second": self.tokens_per_second,
        }


@dataclass
class Chunk:
    text: str = ""
    thinking: str = ""
    done: bool = False
    done_reason: str | None = None
    metrics: Metrics | None = None


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do with a given model."""

    vision: bool
    json_schema: bool = True
    streaming: bool = True
    thinking: bool = False
    in_process: bool = False


@runtime_checkable
class Backend(Protocol):
    name: str  # "ollama", "llama", ...

    def capabilities(self, model: str) -> Capabilities:
        """Raise ModelNotFound if the model is not there."""
        ...

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the answer. Errors are McvError subclasses; a failure after
        text was produced raises StreamError carrying the partial text."""
        ...

    def close(self) -> None: ...
