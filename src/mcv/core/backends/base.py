"""The one backend protocol every engine implements and every surface uses.

A backend takes a `ChatRequest` (messages with prepared images, options, an
optional JSON schema) and yields `Chunk`s; the last chunk has `done=True` and
the `Metrics`. What a backend supports is declared in `Capabilities`, so
callers refuse early instead of failing mid-request.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Literal, Mapping, Protocol, runtime_checkable

from mcv.core.images.types import PreparedImage
from mcv.core.local_pairs import LocalPair
from mcv.core.options import OPTION_TYPES, check_options
from mcv.errors import UsageError

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, kw_only=True)
class Parameters:
    """How an answer is produced, whatever the backend: the one description of
    a request's settings. Config, flags, presets and chat commands all end up
    here (`merged`); backends read it, nothing restates it."""

    model: str
    # Ollama option names and types (core/options.py), checked on creation;
    # a backend refuses the ones it cannot honour (Capabilities.options).
    options: Mapping[str, Any] = field(default_factory=dict)
    # None, "json", or a JSON-schema dict: constrains the answer.
    format: str | dict[str, Any] | None = None
    keep_alive: str | int | None = None
    # None leaves it to mcv's default (off for thinking models, see session.py).
    think: bool | None = None
    # False asks for the whole answer at once; backends still yield Chunks.
    stream: bool = True

    def __post_init__(self) -> None:
        check_options(self.options)
        if not (self.format is None or self.format == "json" or isinstance(self.format, dict)):
            raise UsageError(f'format must be "json" or a JSON schema object, not {self.format!r}')

    def merged(self, *, options: Mapping[str, Any] | None = None, **changes: Any) -> "Parameters":
        """A copy with `options` laid over these options and every other change
        that is not None applied (None means "not given", as with flags)."""
        combined = {**self.options, **(options or {})}
        given = {name: value for name, value in changes.items() if value is not None}
        return replace(self, options=combined, **given)


@dataclass(frozen=True)
class Message:
    role: Role
    content: str
    images: tuple[PreparedImage, ...] = ()
    # An answer cut short (Ctrl-C): kept as far as it got, sent again as it
    # is; backends ignore the mark, transcripts and the history show it.
    interrupted: bool = False


@dataclass(frozen=True)
class ChatRequest:
    """What a backend answers: the conversation so far (a system message
    first, if any) and the parameters."""

    messages: tuple[Message, ...]
    parameters: Parameters

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", tuple(self.messages))

    @property
    def images(self) -> tuple[PreparedImage, ...]:
        return tuple(image for message in self.messages for image in message.images)


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

    # None: the engine cannot tell (an OpenAI-compatible server's /models does not say); images are sent
    # and the server decides. Only False refuses images before sending.
    vision: bool | None
    json_schema: bool = True  # can constrain the answer to a JSON schema (`format`)
    thinking: bool = False
    # Option names the backend honours for this model; any other is refused
    # before sending, never dropped silently.
    options: frozenset[str] = frozenset(OPTION_TYPES)
    # The context the model runs with when a request sets no num_ctx (None:
    # not known), and the embeddings per image slice: what a surface needs to
    # warn before a turn overflows (core/context.py).
    num_ctx: int | None = None
    tokens_per_slice: int = 64


@runtime_checkable
class Backend(Protocol):
    name: str  # its registry name: "ollama", "llama", ...
    where: str  # for people: "Ollama at http://127.0.0.1:11434", "in process (llama.cpp)"
    pair: LocalPair | None  # the local GGUF pair that answers, for in-process engines

    def capabilities(self, model: str) -> Capabilities:
        """Raise ModelNotFound if the model is not there."""
        ...

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        """Stream the answer. Errors are McvError subclasses; a failure after
        text was produced raises StreamError carrying the partial text."""
        ...

    def close(self) -> None: ...
