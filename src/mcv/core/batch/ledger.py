"""Which .txt sidecars mcv wrote, so that a batch replaces its own and never a user's.

A .json sidecar says it is mcv's by its keys (a batch record's); a .txt one
holds only the answer, so mcv keeps a note of each it writes: one line per
(sidecar, content) pair, `sha256(real path) sha256(content)`, appended to a
file in mcv's state folder. A .txt file is mcv's when its present content is
one mcv wrote at that place; one the user wrote or edited since is not. The
note is made before the file is written (an interrupted write leaves a note
of content that is not there: harmless).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_DIGITS = 32  # of each sha256, in hex: 128 bits, no collision to fear


class Ledger:
    def __init__(self, path: Path | None) -> None:
        self.path = path  # None: nothing is known to be mcv's (every existing .txt is the user's)
        self._known: set[tuple[str, str]] | None = None

    def ours(self, target: Path, content: bytes) -> bool:
        return self.path is not None and _pair(target, content) in self._load()

    def note(self, target: Path, content: bytes) -> None:
        """Remember that mcv writes `content` at `target` (OSError if the note cannot be kept)."""
        if self.path is None:
            return
        pair = _pair(target, content)
        known = self._load()
        if pair in known:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{pair[0]} {pair[1]}\n".encode())  # one short write: whole with O_APPEND
        finally:
            os.close(fd)
        known.add(pair)

    def _load(self) -> set[tuple[str, str]]:
        if self._known is None:
            self._known = set()
            try:
                text = self.path.read_text(encoding="ascii", errors="replace") if self.path else ""
            except FileNotFoundError:
                text = ""
            for line in text.splitlines():
                parts = line.split()
                if len(parts) == 2:
                    self._known.add((parts[0], parts[1]))
        return self._known


def _pair(target: Path, content: bytes) -> tuple[str, str]:
    where = hashlib.sha256(os.fsencode(os.path.realpath(target))).hexdigest()[:_DIGITS]
    return where, hashlib.sha256(content).hexdigest()[:_DIGITS]
