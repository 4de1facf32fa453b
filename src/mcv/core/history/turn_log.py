"""One question and its answer into the history, the same for every surface.

    turn = log_turn(session, task.ask(session, images), prompt, on_error=...)
    view.show(turn)          # the events pass unchanged

`TurnTap` watches a turn's events as they go by (the engine that answers,
the images as prepared, the answer as it streams); the chat uses it too. A
logged turn is written once the consumer has taken `Done` and asked for
what follows (so the answer is on the screen before the history costs a
millisecond), or when it stops the turn mid-answer (Ctrl-C: the part that
came is kept, marked interrupted). A turn that failed before any answer is
not kept. A history that cannot be written goes to `on_error`, never raises.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Generator, Iterable

from mcv.core.events import Done, Event, ImageReady, Retrying, Routed, TextChunk

if TYPE_CHECKING:
    from mcv.core.history.store import HistoryError
    from mcv.core.session import Session


class TurnTap:
    """What a turn's events said so far."""

    def __init__(self) -> None:
        self.backend: str | None = None  # registry name of the engine that answered
        self.images: list = []  # PreparedImage, as ImageReady reported them
        self.done: Done | None = None
        self._text: list[str] = []

    @property
    def answer(self) -> str:
        """The finished answer, or the text that had come when the turn stopped."""
        return self.done.answer if self.done is not None else "".join(self._text)

    def watch(self, turn: Iterable[Event]) -> Generator[Event, None, None]:
        """`turn`'s events, unchanged; closing this closes the turn (the engine stops)."""
        events = iter(turn)
        try:
            for event in events:
                if isinstance(event, Routed):
                    self.backend = event.route.backend
                elif isinstance(event, ImageReady):
                    self.images.append(event.image)
                elif isinstance(event, TextChunk):
                    self._text.append(event.text)
                elif isinstance(event, Retrying):  # a checked answer asked again: only the last counts
                    self._text = []
                elif isinstance(event, Done):
                    self.done = event
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()


def log_turn(
    session: "Session",
    turn: Iterable[Event],
    prompt: str | None,
    *,
    on_error: Callable[["HistoryError"], None],
) -> Iterable[Event]:
    """`turn`, logged into the history when the session's config keeps one (`history.log`);
    `prompt` is the question as asked (None: the default one)."""
    if not session.settings.config.get("history.log"):
        return turn
    return _logged(session, turn, prompt, on_error)


def _logged(session, turn, prompt, on_error) -> Generator[Event, None, None]:
    tap = TurnTap()
    try:
        yield from tap.watch(turn)
    finally:
        write_turn(session, tap, prompt, on_error=on_error)


def write_turn(session: "Session", tap: TurnTap, prompt: str | None, *, on_error) -> int | None:
    """Store what `tap` saw as an `ask` entry; its id, or None (nothing to keep, or on_error told)."""
    from mcv.core.backends.base import Message
    from mcv.core.conversation import default_prompt
    from mcv.core.history.store import History, HistoryError

    answer = tap.answer
    if tap.done is None and not answer:
        return None  # stopped or failed before any answer: nothing to keep
    conversation = session.conversation()
    conversation.messages = [
        Message("user", prompt or default_prompt(len(tap.images)), tuple(tap.images)),
        Message("assistant", answer, interrupted=tap.done is None),
    ]
    try:
        with History.open(session.settings.environ) as history:
            return history.save(
                conversation,
                kind="ask",
                model=session.parameters.model,
                backend=tap.backend,
                options=session.parameters.options,
            )
    except HistoryError as err:
        on_error(err)
    except KeyboardInterrupt:
        on_error(HistoryError("interrupted while writing it"))
    return None
