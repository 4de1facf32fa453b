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
    """Re-renders the Markdown of the answer so far, at most ~12 times a second."""

    refresh_interval = 1 / 12

    def __init__(self, console) -> None:
        from rich.live import Live

        self.console = console
        self.text: list[str] = []
        self._last = 0.0
        self._live = Live(console=console, auto_refresh=False, vertical_overflow="visible", transient=False)
        self._started = False

    def _renderable(self):
        from rich.markdown import Markdown

        return Markdown("".join(self.text))

    def feed(self, chunk: Chunk) -> None:
        if not chunk.text:
            return
        self.text.append(chunk.text)
        if not self._started:
            self._live.start()
            self._started = True
        now = time.monotonic()
        if now - self._last >= self.refresh_interval:
            self._live.update(self._renderable(), refresh=True)
            self._last = now

    def finish(self, metrics: Metrics | None = None, error: str | None = None) -> None:
        if self._started:
            self._live.update(self._renderable(), refresh=True)
            self._live.stop()


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
