"""A conversation: the turns so far, and the images waiting for the next one.

Images are kept as prepared bytes, so every turn re-sends exactly the same
bytes for an earlier image: Ollama's prompt cache and the in-process
engine's prefix reuse both depend on it. A turn that fails leaves the
conversation as it was (its images stay waiting), so it can be asked again.
A turn stopped mid-answer (Ctrl-C, a closed turn) keeps the answer as far
as it got, marked `interrupted`; stopped before any text, it leaves the
conversation as it was.

Everything a chat keeps lives here, not in a UI: retry, undo, dropping an
image, the context estimate, saving and loading (core/transcript.py) and
the history id (core/history).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Iterator, Sequence

from mcv.core.backends.base import Message
from mcv.core.events import Done, Event
from mcv.core.images.types import ImageSource, PreparedImage
from mcv.errors import UsageError

if TYPE_CHECKING:
    from mcv.core.context import ContextEstimate
    from mcv.core.session import Session, Turn

DEFAULT_PROMPT_ONE = "Describe this image."
DEFAULT_PROMPT_MANY = "Describe these images."


def default_prompt(image_count: int) -> str:
    return DEFAULT_PROMPT_MANY if image_count > 1 else DEFAULT_PROMPT_ONE


@dataclass(frozen=True)
class ImageEntry:
    """One image of the conversation as people number them (`/images`, `/drop N`)."""

    number: int  # 1-based, sent images first (in order), then the waiting ones
    image: PreparedImage
    message: int | None  # index in `messages` of the question that sent it; None = waiting


class Conversation:
    def __init__(self, session: "Session", *, system: str | None = None) -> None:
        self.session = session
        self.system = system  # None: the model's own default system prompt
        self.messages: list[Message] = []  # user and assistant turns, in order
        self.pending: list[PreparedImage] = []  # attached, not sent yet
        self.last: Done | None = None  # the last finished answer (metrics for /stats)
        self.history_id: int | None = None  # its row in the history database, once saved there

    # --- asking -------------------------------------------------------------------

    def attach(self, sources: Sequence[ImageSource]) -> list[PreparedImage]:
        """Prepare images now and keep them for the next turn (InputError if one is unusable)."""
        images = self.session.prepare(sources)
        self.pending.extend(images)
        return images

    def send(self, prompt: str | None = None, images: Sequence[ImageSource | PreparedImage] = ()) -> "Turn":
        """The next turn: `prompt` with the waiting images and `images`. Sources
        start preparing at once; the engine is found when the turn is iterated."""
        prepared = [image for image in images if isinstance(image, PreparedImage)]
        sources = [image for image in images if not isinstance(image, PreparedImage)]
        self.pending.extend(prepared)
        if not (prompt or self.pending or sources):
            raise UsageError("nothing to send: write a question or attach an image")
        return self.session._start(self, prompt, sources)

    def retry(self) -> "Turn":
        """Ask the last question again (with its images) for a new answer.

        Images waiting for the next turn stay waiting. If the new answer fails,
        the old one is kept; stopped mid-answer, the new partial replaces it.
        """
        from mcv.core.session import Turn

        if len(self.messages) < 2 or self.messages[-1].role != "assistant":
            raise UsageError("nothing to retry yet: ask a question first")
        return Turn(self._again(self.messages[-2], self.messages[-1]))

    def _again(self, question: Message, answer: Message) -> Iterator[Event]:
        waiting = self.pending
        del self.messages[-2:]
        asked_with = len(self.messages)
        self.pending = list(question.images)
        try:
            yield from self.session._start(self, question.content, ())
        finally:
            if len(self.messages) == asked_with:  # no new answer: keep the old one
                self.messages += [question, answer]
            self.pending = waiting

    # --- what the next request holds ---------------------------------------------------

    def images(self) -> list[PreparedImage]:
        """Every image already sent in this conversation, in order."""
        return [image for message in self.messages for image in message.images]

    def image_entries(self) -> list[ImageEntry]:
        """Sent images (with the question that sent them), then the waiting ones, numbered from 1."""
        entries: list[ImageEntry] = []
        for index, message in enumerate(self.messages):
            for image in message.images:
                entries.append(ImageEntry(len(entries) + 1, image, index))
        for image in self.pending:
            entries.append(ImageEntry(len(entries) + 1, image, None))
        return entries

    def drop(self, number: int) -> ImageEntry:
        """Remove image `number` (as `image_entries` numbers it): a waiting one, or
        one already sent (its question keeps its text; later turns no longer carry it)."""
        entries = self.image_entries()
        if not 1 <= number <= len(entries):
            have = f"1 to {len(entries)}" if entries else "none yet"
            raise UsageError(f"no image {number}: the images are numbered {have} (see /images)")
        entry = entries[number - 1]
        if entry.message is None:
            self.pending.pop(number - 1 - (len(entries) - len(self.pending)))
        else:
            message = self.messages[entry.message]
            position = sum(len(m.images) for m in self.messages[: entry.message])
            kept = list(message.images)
            del kept[number - 1 - position]
            self.messages[entry.message] = replace(message, images=tuple(kept))
        return entry

    def messages_with(self, prompt: str | None) -> tuple[Message, ...]:
        """The whole request: system prompt, the turns so far, then the new user turn."""
        head = (Message("system", self.system),) if self.system else ()
        text = prompt or default_prompt(len(self.pending))
        return (*head, *self.messages, Message("user", text, tuple(self.pending)))

    def context(self, prompt: str | None = None) -> "ContextEstimate":
        """How much of the model's context the next request (with `prompt`) would use, estimated."""
        from mcv.core.context import estimate

        return estimate(self.messages_with(prompt), self.session)

    # --- what happened -----------------------------------------------------------------------

    def record(self, question: Message, answer: str, *, done: Done | None = None, interrupted: bool = False) -> None:
        """A turn went through (or was stopped mid-answer): keep it; its images are no longer waiting."""
        self.messages += [question, Message("assistant", answer, interrupted=interrupted)]
        self.pending = []
        self.last = done

    def undo(self) -> list[Message]:
        """Forget the last question and its answer; returns them."""
        if len(self.messages) < 2:
            raise UsageError("nothing to undo")
        forgotten = self.messages[-2:]
        del self.messages[-2:]
        return forgotten

    def clear(self) -> None:
        """Start over: no turns, no waiting images; the history keeps the old conversation."""
        self.messages = []
        self.pending = []
        self.last = None
        self.history_id = None

    # --- files ------------------------------------------------------------------------------------

    def save(self, path, *, model: str | None = None) -> str:
        """Write the conversation to `path`: JSON for *.json, Markdown otherwise. Returns the format."""
        from mcv.core.transcript import save

        return save(self, path, model=model or self.session.parameters.model)

    def load(self, path) -> None:
        """Replace this conversation by the one saved in `path` (see core/transcript.py)."""
        from mcv.core.transcript import load

        self.restore(load(path))

    def restore(self, transcript, *, history_id: int | None = None) -> None:
        """Replace this conversation by a saved one (a file's, or the history's)."""
        self.clear()
        self.system = transcript.system
        self.messages = list(transcript.messages)
        self.pending = list(transcript.pending)
        self.history_id = history_id
