"""A conversation: the turns so far, and the images waiting for the next one.

Images are kept as prepared bytes, so every turn re-sends exactly the same
bytes for an earlier image: Ollama's prompt cache and the in-process
engine's prefix reuse both depend on it. A turn that fails leaves the
conversation as it was (its images stay waiting), so it can be asked again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from mcv.core.backends.base import Message
from mcv.core.images.types import ImageSource, PreparedImage
from mcv.errors import UsageError

if TYPE_CHECKING:
    from mcv.core.session import Session, Turn

DEFAULT_PROMPT_ONE = "Describe this image."
DEFAULT_PROMPT_MANY = "Describe these images."


def default_prompt(image_count: int) -> str:
    return DEFAULT_PROMPT_MANY if image_count > 1 else DEFAULT_PROMPT_ONE


class Conversation:
    def __init__(self, session: "Session", *, system: str | None = None) -> None:
        self.session = session
        self.system = system  # None: the model's own default system prompt
        self.messages: list[Message] = []  # user and assistant turns, in order
        self.pending: list[PreparedImage] = []  # attached, not sent yet

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

    def images(self) -> list[PreparedImage]:
        """Every image already sent in this conversation, in order."""
        return [image for message in self.messages for image in message.images]

    def messages_with(self, prompt: str | None) -> tuple[Message, ...]:
        """The whole request: system prompt, the turns so far, then the new user turn."""
        head = (Message("system", self.system),) if self.system else ()
        text = prompt or default_prompt(len(self.pending))
        return (*head, *self.messages, Message("user", text, tuple(self.pending)))

    def record(self, question: Message, answer: str) -> None:
        """A turn went through: keep it, and its images are no longer waiting."""
        self.messages += [question, Message("assistant", answer)]
        self.pending = []

    def undo(self) -> None:
        """Forget the last question and its answer."""
        del self.messages[-2:]

    def clear(self) -> None:
        self.messages = []
        self.pending = []
