"""Progress for hashing, uploads, downloads and pulls: rich bars on a terminal.

`reporter_for(env)` gives a `RichReporter` (bytes, speed, ETA per transfer,
server status lines above the bars) when stderr is a terminal, and a
`PlainReporter` otherwise, which writes only the few lines worth keeping in a
log. Both implement mcv.packaging.events.Reporter.
"""

from __future__ import annotations

import threading

from mcv.core.units import format_bytes
from mcv.packaging.events import Reporter


def reporter_for(env) -> Reporter:
    return RichReporter(env) if env.stderr_isatty else PlainReporter(env)


class PlainReporter(Reporter):
    """Piped or logged: one line per finished transfer and per note, nothing else."""

    def __init__(self, env) -> None:
        self.env = env
        self._totals: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def start(self, label: str, total: int | None, initial: int = 0) -> None:
        with self._lock:
            self._totals[label] = total

    def update(self, label: str, completed: int, total: int | None = None) -> None:
        with self._lock:
            if label not in self._totals or total:
                self._totals[label] = total

    def finish(self, label: str) -> None:
        with self._lock:
            if label not in self._totals:
                return
            total = self._totals.pop(label)
        if label.startswith("hash "):
            return  # hashing is a step of something else; its result is what counts
        self.env.note(f"{label} done" + (f" ({format_bytes(total)})" if total else ""))

    def note(self, text: str) -> None:
        self.env.note(text)


class RichReporter(Reporter):
    """A rich Progress on stderr, started lazily, one task per label."""

    def __init__(self, env) -> None:
        self.env = env
        self._progress = None
        self._tasks: dict[str, int] = {}
        self._lock = threading.Lock()

    def _ensure(self):
        if self._progress is None:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.env.console(stderr=True),
                transient=False,
            )
            self._progress.start()
        return self._progress

    def start(self, label: str, total: int | None, initial: int = 0) -> None:
        with self._lock:
            progress = self._ensure()
            if label in self._tasks:
                progress.reset(self._tasks[label], total=total, completed=initial)
            else:
                self._tasks[label] = progress.add_task(label, total=total, completed=initial)

    def advance(self, label: str, count: int) -> None:
        task = self._tasks.get(label)
        if task is not None:
            self._progress.advance(task, count)

    def update(self, label: str, completed: int, total: int | None = None) -> None:
        task = self._tasks.get(label)
        if task is None:
            self.start(label, total)
            task = self._tasks[label]
        fields = {"completed": completed}
        if total:
            fields["total"] = total
        self._progress.update(task, **fields)

    def finish(self, label: str) -> None:
        task = self._tasks.get(label)
        if task is not None:
            total = next((t.total for t in self._progress.tasks if t.id == task), None)
            if total:
                self._progress.update(task, completed=total)
            self._progress.stop_task(task)

    def status(self, text: str) -> None:
        self._print(f"[dim]{_escape(text)}[/dim]")

    def note(self, text: str) -> None:
        self._print(_escape(text))

    def _print(self, markup: str) -> None:
        if self._progress is not None:
            self._progress.console.print(markup)
        else:
            self.env.console(stderr=True).print(markup)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
