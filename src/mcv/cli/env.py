"""Terminal facts in one object, so no logic checks isatty itself (httpie's idea).

Commands receive an `Environment` through the typer/click context
(`ctx.obj`); tests build one with fake streams and tty flags.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import IO, Any, Mapping

from mcv.errors import McvError


@dataclass
class Environment:
    stdin: IO[bytes]
    stdout: IO[str]
    stderr: IO[str]
    stdin_isatty: bool
    stdout_isatty: bool
    stderr_isatty: bool
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    width: int | None = None  # fixed terminal width (tests); None = ask the terminal
    _consoles: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_process(cls) -> "Environment":
        return cls(
            stdin=sys.stdin.buffer if sys.stdin else open(os.devnull, "rb"),
            stdout=sys.stdout,
            stderr=sys.stderr,
            stdin_isatty=bool(sys.stdin) and sys.stdin.isatty(),
            stdout_isatty=sys.stdout.isatty(),
            stderr_isatty=sys.stderr.isatty(),
            environ=os.environ,
        )

    @property
    def color(self) -> bool:
        return "NO_COLOR" not in self.environ and self.environ.get("TERM") != "dumb"

    def console(self, *, stderr: bool = False):
        """A rich Console bound to stdout or stderr (imported on first use)."""
        key = "err" if stderr else "out"
        if key not in self._consoles:
            from rich.console import Console

            tty = self.stderr_isatty if stderr else self.stdout_isatty
            self._consoles[key] = Console(
                file=self.stderr if stderr else self.stdout,
                force_terminal=tty,
                no_color=not self.color,
                width=self.width,
                highlight=False,
                soft_wrap=not tty,
            )
        return self._consoles[key]

    def error(self, err: McvError | str) -> None:
        """One line on stderr (plus the hint, if any)."""
        message = err.message if isinstance(err, McvError) else err
        self.stderr.write(f"mcv: error: {message}\n")
        hint = getattr(err, "hint", None)
        if hint:
            self.stderr.write(f"mcv: hint: {hint}\n")
        self.stderr.flush()

    def discard_stdout(self) -> None:
        """The reader of stdout went away (`mcv ask ... | head`): send the rest
        nowhere, so the interpreter's last flush does not fail too."""
        try:
            fd = self.stdout.fileno()
        except (AttributeError, OSError, ValueError):  # not a real file (tests, wrappers)
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)

    def note(self, text: str) -> None:
        """A remark for the user on stderr (never mixed into answers on stdout)."""
        self.stderr.write(f"mcv: {text}\n")
        self.stderr.flush()
