"""Stream renderers: plain text for pipes, live Markdown for terminals, JSON.

A pipe gets the text exactly as it arrives (flushed per chunk) so `mcv ask
... | tee` shows progress. A terminal gets rich Markdown re-rendered while it
streams. `--json` prints one object at the end, with the partial answer and
the error if the stream failed.
"""

from __future__ import annotations

import json
import time
from typing import Any

from mcv.core.backends.base import Chunk, Metrics


class PlainRenderer:
    def __init__(self, out) -> None:
        self.out = out
        self.text: list[str] = []

    def feed(self, chunk: Chunk) -> None:
        if chunk.text:
            self.text.append(chunk.text)
            self.out.write(chunk.text)
            self.out.flush()

    def finish(self, metrics: Metrics | None = None, error: str | None = None) -> None:
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

    def feed(self, chunk: Chunk) -> None:
        if not chunk.text:
            return
        self.text += chunk.text
        boundary = last_block_boundary(self.text)
        if boundary > self._committed:
            self._committed = boundary
            self._print_new_lines(self.text[:boundary])
            self._show_tail(force=True)
        else:
            self._show_tail()

    def finish(self, metrics: Metrics | None = None, error: str | None = None) -> None:
        self._stop_live()
        if self.text.strip():
            self._print_new_lines(self.text)

    def _stop_live(self) -> None:
        if self._live is not None:
            self._live.stop()  # transient: erases the live tail
            self._live = None

    def _show_tail(self, *, force: bool = False) -> None:
        from rich.markdown import Markdown

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
        self._live.update(Markdown(tail), refresh=True)

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


class JsonRenderer:
    def __init__(self, out, *, model: str, backend: str, images: list[dict[str, Any]]) -> None:
        self.out = out
        self.model = model
        self.backend = backend
        self.images = images
        self.text: list[str] = []
        self.thinking: list[str] = []
        self.done_reason: str | None = None

    def feed(self, chunk: Chunk) -> None:
        self.text.append(chunk.text)
        if chunk.thinking:
            self.thinking.append(chunk.thinking)
        if chunk.done:
            self.done_reason = chunk.done_reason

    def finish(self, metrics: Metrics | None = None, error: str | None = None) -> None:
        payload: dict[str, Any] = {
            "answer": "".join(self.text),
            "model": self.model,
            "backend": self.backend,
            "done_reason": self.done_reason,
            "images": self.images,
            "metrics": (metrics or Metrics()).as_dict(),
        }
        if self.thinking:
            payload["thinking"] = "".join(self.thinking)
        if error is not None:
            payload["error"] = error
        self.out.write(json.dumps(payload, ensure_ascii=False) + "\n")
        self.out.flush()


def pick_renderer(env, *, as_json: bool, markdown: bool, model: str, backend: str, images: list[dict[str, Any]]):
    if as_json:
        return JsonRenderer(env.stdout, model=model, backend=backend, images=images)
    if env.stdout_isatty and markdown:
        return MarkdownRenderer(env.console())
    return PlainRenderer(env.stdout)


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
