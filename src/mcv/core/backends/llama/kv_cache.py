"""What the KV cache holds, so the next turn evaluates only what is new.

The cache is described as a list of keys, one per evaluated unit: a text
token is its id; an image chunk (an overview or one slice) is
("image", sha256, n_pos). `ends[i]` is the KV position after key i. A new
prompt is tokenised the same way; the longest common prefix of the two key
lists stays in the cache, the rest is dropped and evaluated anew. Comparing
token ids rather than text means a re-rendered answer is reused exactly as
far as its re-tokenisation agrees with the sampled tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Hashable, Sequence, Union

from mcv.core.backends.llama.native import ImagePiece, Piece, TextPiece

Key = Hashable  # int (text token) or ("image", sha256, n_pos)


def piece_keys(pieces: Sequence[Piece]) -> list[Key]:
    keys: list[Key] = []
    for piece in pieces:
        if isinstance(piece, TextPiece):
            keys.extend(piece.tokens)
        else:
            keys.append(("image", piece.image_id, piece.n_pos))
    return keys


def common_prefix(a: Sequence[Key], b: Sequence[Key]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@dataclass(frozen=True)
class TextWork:
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class ImageWork:
    piece: ImagePiece


Work = Union[TextWork, ImageWork]


def work_after(pieces: Sequence[Piece], reused: int) -> list[Work]:
    """The pieces (or the tail of a text piece) that come after `reused` keys."""
    work: list[Work] = []
    start = 0
    for piece in pieces:
        size = len(piece.tokens) if isinstance(piece, TextPiece) else 1
        end = start + size
        if end > reused:
            if isinstance(piece, TextPiece):
                work.append(TextWork(piece.tokens[max(0, reused - start) :]))
            else:
                work.append(ImageWork(piece))
        start = end
    return work


@dataclass
class CacheRecord:
    """The keys whose results are in the KV cache, in order, and where each ends."""

    keys: list[Key] = field(default_factory=list)
    ends: list[int] = field(default_factory=list)

    @property
    def position(self) -> int:
        return self.ends[-1] if self.ends else 0

    def position_after(self, n_keys: int) -> int:
        return self.ends[n_keys - 1] if n_keys else 0

    def reusable(self, new_keys: Sequence[Key]) -> int:
        """How many leading keys of the new prompt are already evaluated.

        At least one key of the prompt is always re-evaluated: sampling needs
        the logits of the last prompt token, and only a decode produces them.
        """
        n = common_prefix(self.keys, new_keys)
        if n >= len(new_keys):
            n = len(new_keys) - 1
            # Step back over a trailing image so the last unit decoded is text.
            while n > 0 and not isinstance(new_keys[n], int):
                n -= 1
        return max(n, 0)

    def truncate(self, n_keys: int) -> None:
        del self.keys[n_keys:]
        del self.ends[n_keys:]

    def clear(self) -> None:
        self.truncate(0)

    def add_tokens(self, tokens: Sequence[int]) -> None:
        position = self.position
        for token in tokens:
            position += 1
            self.keys.append(token)
            self.ends.append(position)

    def add_image(self, piece: ImagePiece, end: int) -> None:
        self.keys.append(("image", piece.image_id, piece.n_pos))
        self.ends.append(end)

    def image_ids(self) -> set[str]:
        return {key[1] for key in self.keys if isinstance(key, tuple)}
