"""`mcv ask` turns into the history, written after the answer is shown.

The turn's events are watched as they pass to the view (the images as
prepared, the route, the answer or the part of it that came before Ctrl-C);
once the answer is on the screen, one transaction stores them. A history
that cannot be written (a read-only data folder, a locked file) costs one
note on stderr, never the answer or the exit code.
"""

from __future__ import annotations

from mcv.core.events import Done, ImageReady, Retrying, Routed, TextChunk


class AskLog:
    def __init__(self, session, prompt: str | None) -> None:
        self.session = session
        self.prompt = prompt
        self.images: list = []
        self.text: list[str] = []
        self.done: Done | None = None
        self.backend: str | None = None

    def watch(self, turn):
        """The turn's events, unchanged (closing this closes the turn)."""
        events = iter(turn)
        try:
            for event in events:
                if isinstance(event, Routed):
                    self.backend = event.route.backend
                elif isinstance(event, ImageReady):
                    self.images.append(event.image)
                elif isinstance(event, TextChunk):
                    self.text.append(event.text)
                elif isinstance(event, Done):
                    self.done = event
                elif isinstance(event, Retrying):  # a checked answer asked again: only the last counts
                    self.text = []
                yield event
        finally:
            events.close()

    def write(self, env) -> None:
        from mcv.core.backends.base import Message
        from mcv.core.conversation import default_prompt
        from mcv.core.history import History, HistoryError

        answer = self.done.answer if self.done is not None else "".join(self.text)
        if self.done is None and not answer:
            return  # stopped before any answer: nothing to keep
        conversation = self.session.conversation()
        question = self.prompt or default_prompt(len(self.images))
        conversation.messages = [
            Message("user", question, tuple(self.images)),
            Message("assistant", answer, interrupted=self.done is None),
        ]
        try:
            with History.open(env.environ) as history:
                history.save(conversation, kind="ask", model=self.session.parameters.model, backend=self.backend)
        except HistoryError as err:
            env.note(f"not kept in the history: {err.message} (--no-log, or `mcv config set history.log false`)")
