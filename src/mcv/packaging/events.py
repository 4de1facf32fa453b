"""What the packaging work tells its user while it runs.

The core calls a `Reporter`; the CLI passes one that draws rich progress bars
on a terminal and prints a few plain lines when piped. The base class does
nothing, which is what library callers and most tests want.

Transfers (hashing, uploads, downloads, pulls) are identified by a label,
e.g. "hash ggml-model-Q4_K_M.gguf". `advance` may be called from worker
threads.
"""

from __future__ import annotations


class Reporter:
    def start(self, label: str, total: int | None, initial: int = 0) -> None:
        """A transfer of `total` bytes begins (`initial` already done: resume)."""

    def advance(self, label: str, count: int) -> None:
        """`count` more bytes of `label` are done."""

    def update(self, label: str, completed: int, total: int | None = None) -> None:
        """Absolute progress (pull streams report totals, not deltas)."""

    def finish(self, label: str) -> None:
        """The transfer is over (called at most once per label by the core)."""

    def status(self, text: str) -> None:
        """A status line from the server (create/pull streams)."""

    def note(self, text: str) -> None:
        """A remark worth showing even when piped."""

    def close(self) -> None:
        """Stop drawing; called once at the end."""
