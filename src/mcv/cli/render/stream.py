"""Answer renderers: plain text for pipes, live Markdown for terminals.

A pipe gets the text exactly as it arrives (flushed per piece) so `mcv ask
... | tee` shows progress. A terminal gets rich Markdown re-rendered while it
streams. Both take text pieces (`feed`) and are told when the answer is over
(`finish`), whether it ended well or not.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator

from mcv.core.backends.base import Metrics


class PlainRenderer:
    def __init__(self, out) -> None:
        self.out = out
        self.text: list[str] = []

    def feed(self, text: str) -> None:
        if text:
            self.text.append(text)
            self.out.write(text)
            self.out.flush()

    def finish(self) -> None:
        answer = "".join(self.text)
        if answer and not answer.endswith("\n"):
            self.out.write("\n")
        self.out.flush()


class MarkdownRenderer:
    """Live Markdown that never repeats itself in the scrollback.

    Re-rendering the whole answer in a rich Live breaks once the answer is
    taller than the terminal: the part that scrolled off cannot be erased and
    is printed again on every refresh. So finished blocks (up to the last
    blank line outside a code fence) are printed once, for good, and only the
    block still being written is live.
    """

    refresh_interval = 1 / 12

    def __init__(self, console) -> None:
        self.console = console
        self.text = ""
        self._committed = 0  # characters of `text` whose lines are printed
        self._printed_lines = 0
        self._last = 0.0
        self._live = None  # a fresh Live per tail: a stopped one remembers its old height

    def feed(self, text: str) -> None:
        if not text:
            return
        self.text += text
        boundary = last_block_boundary(self.text)
        with whole_frames():
            if boundary > self._committed:
                self._committed = boundary
                self._print_new_lines(self.text[:boundary])
                self._show_tail(force=True)
            else:
                self._show_tail()

    def finish(self) -> None:
        with whole_frames():
            self._stop_live()
            if self.text.strip():
                self._print_new_lines(self.text)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()  # transient: erases the live tail
            self._live = None

    def _show_tail(self, *, force: bool = False) -> None:
        from rich.console import Group
        from rich.markdown import Markdown
        from rich.text import Text

        now = time.monotonic()
        if not force and now - self._last < self.refresh_interval:
            return
        self._last = now
        tail = self.text[self._committed :]
        if not tail.strip():
            return
        if self._live is None:
            from rich.live import Live

            self._live = Live(console=self.console, auto_refresh=False, vertical_overflow="crop", transient=True)
            self._live.start()
        # An empty last line keeps the cursor at column 0: the terminal's echo of
        # Ctrl-C ("^C") then cannot wrap past the region the erase will clear.
        self._live.update(Group(Markdown(tail), Text("")), refresh=True)

    def _print_new_lines(self, text: str) -> None:
        """Render `text` (a prefix of the answer made of whole blocks) and
        print the lines not printed before: a prefix renders the same way
        however much follows it."""
        from rich.markdown import Markdown
        from rich.segment import Segment, Segments

        lines = self.console.render_lines(Markdown(text), self.console.options, pad=False)
        while lines and not "".join(segment.text for segment in lines[-1]).strip():
            lines.pop()  # trailing blank lines belong to the next block
        fresh = lines[self._printed_lines :]
        if not fresh:
            return
        self._printed_lines = len(lines)
        segments = [segment for line in fresh for segment in (*line, Segment.line())]
        self._stop_live()
        self.console.print(Segments(segments), end="")


@contextmanager
def whole_frames() -> Iterator[None]:
    """Ctrl-C between two frames, never in the middle of one.

    A live region is erased by moving the cursor up by its last height; a
    frame cut short by KeyboardInterrupt leaves the cursor where that count
    is wrong, and a stale line stays on the screen. So SIGINT waits while a
    frame is written, then is raised as usual.
    """
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread receives signals
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda number, frame: caught.append(number))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught:
            raise KeyboardInterrupt


def last_block_boundary(text: str) -> int:
    """Index just after the last blank line that is outside a code fence (0 if none)."""
    boundary = 0
    in_fence = False
    position = 0
    for line in text.splitlines(keepends=True):
        position += len(line)
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_fence = not in_fence
        elif not stripped and not in_fence and line.endswith("\n"):
            boundary = position
    return boundary


def format_metrics(metrics: Metrics) -> str:
    """One line for --verbose, e.g. `prompt 812 tok 0.41 s · answer 96 tok 3.20 s (30.0 tok/s) · total 3.9 s`."""
    parts = []
    if metrics.prompt_eval_count is not None:
        part = f"prompt {metrics.prompt_eval_count} tok"
        if metrics.prompt_eval_duration_ns:
            part += f" {metrics.prompt_eval_duration_ns / 1e9:.2f} s"
        parts.append(part)
    if metrics.eval_count is not None:
        part = f"answer {metrics.eval_count} tok"
        if metrics.eval_duration_ns:
            part += f" {metrics.eval_duration_ns / 1e9:.2f} s"
        rate = metrics.tokens_per_second
        if rate is not None:
            part += f" ({rate:.1f} tok/s)"
        parts.append(part)
    if metrics.load_duration_ns:
        parts.append(f"load {metrics.load_duration_ns / 1e9:.2f} s")
    if metrics.total_duration_ns:
        parts.append(f"total {metrics.total_duration_ns / 1e9:.2f} s")
    return " · ".join(parts) if parts else "no metrics reported"
