"""How much of the model's context a request will use, estimated before it is sent.

Images cost what the model's slice grid makes of them (an overview plus one
run of embeddings per slice, core/images/grid.py), with the marker tokens
around each run. Text is counted by the engine's own tokenizer when one is
loaded in process, otherwise by a character rule that errs on the high
side for English (4 characters a token) and counts every other character
as a token (CJK text is about one token per character). Each message also
pays for its chat-template header.

A request overflows when it leaves less than `ANSWER_ROOM` tokens of the
context for the answer: the engine would cut the prompt or the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from mcv.core.backends.base import Message
from mcv.core.images.grid import image_token_count, slice_grid

TEMPLATE_TOKENS = 6  # role header and end-of-turn tokens of one message
ANSWER_ROOM = 256  # tokens left for the answer below which a turn counts as overflowing


@dataclass(frozen=True)
class ContextEstimate:
    text_tokens: int
    image_tokens: int
    limit: int | None  # num_ctx the request runs with (None: not known)
    counted: bool  # text counted by the engine's tokenizer (else estimated from characters)

    @property
    def total(self) -> int:
        return self.text_tokens + self.image_tokens

    @property
    def overflows(self) -> bool:
        return self.limit is not None and self.total + ANSWER_ROOM > self.limit

    def describe(self) -> str:
        """E.g. `≈1,830 of 4,096 tokens (45%): 1,500 for 2 images, 330 for text`."""
        known = self.limit is not None and self.limit > 0
        share = f" ({100 * self.total / self.limit:.0f}%)" if known else ""
        limit = f" of {self.limit:,}" if known else ""
        return f"≈{self.total:,}{limit} tokens{share}: {self.image_tokens:,} for images, {self.text_tokens:,} for text"


def text_tokens(text: str) -> int:
    """Tokens of `text` by the character rule."""
    ascii_chars = sum(1 for c in text if c < "\x80")
    return math.ceil(ascii_chars / 4) + (len(text) - ascii_chars)


def image_tokens(width: int, height: int, tokens_per_slice: int) -> int:
    """Embeddings of one image plus its <image>/<slice> markers and row breaks."""
    grid = slice_grid(width, height)
    pieces = 1 + (grid[0] * grid[1] if grid else 0)
    rows = grid[1] if grid else 0
    return image_token_count(width, height, tokens_per_slice) + 2 * pieces + rows


def estimate(messages: Sequence[Message], session) -> ContextEstimate:
    """The estimate for sending `messages` through `session`'s engine and parameters."""
    capabilities = session.capabilities()
    limit = session.parameters.options.get("num_ctx") or session.running_context() or capabilities.num_ctx
    counted = True
    text_total = 0
    for message in messages:
        count = session.count_tokens(message.content) if message.content else 0
        if count is None:
            counted = False
            count = text_tokens(message.content)
        text_total += count + TEMPLATE_TOKENS
    image_total = sum(
        image_tokens(image.width, image.height, capabilities.tokens_per_slice)
        for message in messages
        for image in message.images
    )
    return ContextEstimate(text_total, image_total, limit, counted)
