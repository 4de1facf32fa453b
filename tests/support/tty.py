"""A real pseudo-terminal for interactive commands, and a terminal emulator reading it.

    with Terminal([sys.executable, "-m", "mcv", "chat", "a.png"], env=environ) as term:
        term.wait_for(">>> ")              # what the screen shows (pyte), not the raw bytes
        term.type("what is it?\\r")
        term.wait_for("A red square.")
        term.text()                        # the screen as lines (scrollback included)

pexpect runs the program on a pty; everything it writes goes through pyte,
which also answers the terminal's queries (cursor position, device
attributes) the way a real terminal would, so line editors such as
prompt_toolkit behave as they do for people.
"""

from __future__ import annotations

import re
import time
from typing import Mapping, Sequence

import pexpect
import pyte

ROWS, COLUMNS = 40, 100


class Terminal:
    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd=None, rows: int = ROWS, columns: int = COLUMNS):
        self.screen = pyte.HistoryScreen(columns, rows, history=2000)
        self.stream = pyte.ByteStream(self.screen)
        env = {**env, "TERM": "xterm", "COLUMNS": str(columns), "LINES": str(rows)}
        self.child = pexpect.spawn(argv[0], list(argv[1:]), env=dict(env), cwd=cwd, dimensions=(rows, columns))
        self.screen.write_process_input = lambda data: self.child.send(data)  # answers queries
        self.raw = b""

    def __enter__(self) -> "Terminal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)

    # --- reading ------------------------------------------------------------------------

    def pump(self, timeout: float = 0.05) -> None:
        """Feed what the program wrote so far to the emulator."""
        if self.child.closed:
            return
        try:
            while True:
                data = self.child.read_nonblocking(65536, timeout=timeout)
                self.raw += data
                self.stream.feed(data)
                timeout = 0.01
        except pexpect.TIMEOUT:
            pass
        except pexpect.EOF:
            pass

    def lines(self) -> list[str]:
        """Every line shown so far: the scrollback, then the screen."""
        self.pump()
        history = ["".join(line[x].data for x in range(self.screen.columns)).rstrip() for line in self.screen.history.top]
        return history + [line.rstrip() for line in self.screen.display]

    def text(self) -> str:
        return "\n".join(self.lines())

    def wait_for(self, pattern: str, timeout: float = 20.0, *, after: int = 0) -> re.Match:
        """Wait until the screen text (from character `after` on) matches `pattern` (a regex)."""
        deadline = time.monotonic() + timeout
        compiled = re.compile(pattern)
        while True:
            text = self.text()
            match = compiled.search(text, after)
            if match:
                return match
            if time.monotonic() > deadline or not self.child.isalive() and not self._pending():
                raise AssertionError(f"the screen never showed {pattern!r}; it shows:\n{text}")
            time.sleep(0.05)

    def _pending(self) -> bool:
        if self.child.closed:
            return False
        try:
            data = self.child.read_nonblocking(65536, timeout=0.05)
        except (pexpect.TIMEOUT, pexpect.EOF):
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def mark(self) -> int:
        """A position in the text: `wait_for(..., after=term.mark())` looks only at what comes later."""
        return len(self.text().rstrip())

    # --- typing ----------------------------------------------------------------------------

    def type(self, keys: str) -> None:
        self.child.send(keys)

    def line(self, text: str) -> None:
        """Type `text` and Enter."""
        self.child.send(text)
        time.sleep(0.05)
        self.child.send("\r")

    def interrupt(self) -> None:
        self.child.sendintr()

    def end(self) -> None:
        self.child.sendeof()

    def exit_code(self, timeout: float = 20.0) -> int:
        deadline = time.monotonic() + timeout
        while self.child.isalive() and time.monotonic() < deadline:
            self.pump(0.1)
        self.pump()
        self.child.close()
        return self.child.exitstatus if self.child.exitstatus is not None else -(self.child.signalstatus or 0)
