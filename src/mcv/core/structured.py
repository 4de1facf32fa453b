"""Answers that must have a shape: a JSON schema, or a length limit.

    task = Task("read the receipt")            # or apply_preset(...) (core/presets.py)
    turn = task.ask(session, [image])          # a Turn, like session.ask
    done = turn.result()                       # done.data: the parsed JSON

When the session's `Parameters.format` asks for JSON (a schema, or "json";
the engine constrains the answer with it: Ollama `format`, a llama.cpp
grammar) or the task limits the length (`alt`: 125 characters), the answer
is checked when it is complete: parsed and validated with jsonschema, or
measured. A failing answer is asked for once more, in the same conversation
(the image is not sent twice over: the engines reuse its cached prefix),
with what was wrong; a second failure ends the turn as `Failed` with a
`SchemaMismatch` carrying the raw text, which surfaces keep (stdout).

Every surface (ask, batch, MCP) asks through `Task.ask`, so they share this;
surfaces that stream see the first attempt's chunks, then `Retrying`, then
the second attempt's. Without a format or a limit, `Task.ask` is `session.ask`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Generator, Sequence

from mcv.core.backends.base import Metrics
from mcv.core.events import Done, Event, Failed, Retrying, Routed
from mcv.core.images.types import ImageSource, PreparedImage
from mcv.errors import SchemaMismatch

if TYPE_CHECKING:
    from mcv.core.session import Session, Turn


@dataclass(frozen=True)
class Task:
    """What to ask beyond the session's settings: the prompt (None: the
    default one) and an optional limit on the answer's length in characters."""

    prompt: str | None = None
    max_chars: int | None = None

    def ask(self, session: "Session", images: Sequence[ImageSource | PreparedImage]) -> "Turn":
        return answer(session, images, self.prompt, max_chars=self.max_chars)


def answer(
    session: "Session",
    images: Sequence[ImageSource | PreparedImage],
    prompt: str | None,
    *,
    max_chars: int | None = None,
) -> "Turn":
    """`session.ask`, checked against the request's format and `max_chars` (module docstring)."""
    from mcv.core.session import Turn

    wanted = session.parameters.format
    if wanted is None and max_chars is None:
        return session.ask(images, prompt)
    conversation = session.conversation()
    return Turn(_checked(conversation, images, prompt, wanted, max_chars))


def check(text: str, wanted: dict[str, Any] | str | None, max_chars: int | None) -> tuple[Any, str | None]:
    """(parsed JSON or None, None) when `text` is acceptable; else (None, what is wrong)."""
    data = None
    if wanted is not None:
        from mcv.core.schema import problem

        data, wrong = problem(text, wanted)
        if wrong is not None:
            return None, wrong
    if max_chars is not None:
        length = len(text.strip())
        if length == 0:
            return None, "the answer is empty"
        if length > max_chars:
            return None, f"the answer is {length} characters long; at most {max_chars} are allowed"
    return data, None


def retry_prompt(problem: str, wanted: dict[str, Any] | str | None) -> str:
    """What the model is told when its answer failed the check."""
    if wanted is not None:
        return (
            f"That answer does not match the required JSON schema: {problem}. "
            "Reply again with only the corrected JSON."
        )
    return f"That answer does not fit: {problem}. Reply again with a shorter answer, and nothing else."


def _checked(
    conversation, images, prompt, wanted, max_chars
) -> Generator[Event, None, None]:
    turn = conversation.send(prompt, images)
    spent: Metrics | None = None
    try:
        for attempt in (1, 2):
            done = None
            for event in turn:
                if isinstance(event, Done):
                    done = event
                elif isinstance(event, Failed):
                    yield event
                    return
                elif not (attempt > 1 and isinstance(event, Routed)):  # the route was reported once
                    yield event
            assert done is not None, "a turn ends with Done or Failed"
            spent = add_metrics(spent, done.metrics)
            data, wrong = check(done.answer, wanted, max_chars)
            if wrong is None:
                yield replace(done, metrics=spent, data=data)
                return
            if attempt == 2:
                what = "the schema" if wanted is not None else "the length limit"
                error = SchemaMismatch(
                    f"the answer did not match {what}, even when asked again: {wrong}",
                    answer=done.answer,
                    hint="the model's last answer is kept as it was; a larger model, or a simpler schema, may do better",
                )
                yield Failed(error, done.answer)
                return
            yield Retrying(wrong, done.answer)
            turn.close()
            turn = conversation.send(retry_prompt(wrong, wanted))
    finally:
        turn.close()  # closed early (Ctrl-C): the engine stops generating


def add_metrics(total: Metrics | None, more: Metrics | None) -> Metrics | None:
    """Two requests' metrics added up (a field unknown in either stays as the other has it)."""
    if total is None or more is None:
        return more if total is None else total
    values = {}
    for field in fields(Metrics):
        a, b = getattr(total, field.name), getattr(more, field.name)
        values[field.name] = b if a is None else a if b is None else a + b
    return Metrics(**values)
