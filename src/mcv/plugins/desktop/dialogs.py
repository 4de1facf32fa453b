"""Dialogs with what the desktop has: zenity, kdialog, osascript, a Windows message box.

Every tool runs from an argument list (never a shell). Text goes in as data:
long answers through a temporary file (zenity --text-info, kdialog
--textbox), short ones escaped for the tool's markup (Pango for zenity, Qt
rich text for kdialog), and as `on run argv` items for AppleScript, whose
source is fixed. `show_text` returns True when the person pressed "Copy"
(the job copies with core/text_clipboard.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from typing import Iterator, Mapping, Protocol, Sequence

from mcv.plugins.desktop import markup

SHORT_CHARS = 400  # longer answers get a scrollable text dialog
SHORT_LINES = 8
TEXT_SIZE = (640, 480)  # the text dialog's width and height


class Dialogs(Protocol):
    name: str

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool: ...

    def show_error(self, title: str, message: str, hint: str | None) -> None: ...

    def ask(self, title: str, prompt: str) -> str | None: ...


def is_short(text: str) -> bool:
    return len(text) <= SHORT_CHARS and text.count("\n") < SHORT_LINES


def choose_dialogs(environ: Mapping[str, str], platform: str | None = None, stderr=None) -> Dialogs:
    """The dialogs of this desktop: osascript on macOS, message boxes on Windows; on
    Linux kdialog in a KDE session (or without zenity), else zenity; else text on stderr."""
    platform = sys.platform if platform is None else platform
    if platform == "darwin" and _which("osascript", environ):
        return AppleScriptDialogs(_which("osascript", environ), environ)
    if platform == "win32":
        return WindowsDialogs()
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        zenity, kdialog = _which("zenity", environ), _which("kdialog", environ)
        kde = "KDE" in environ.get("XDG_CURRENT_DESKTOP", "").upper().split(":")
        if kdialog and (kde or not zenity):
            return KDialogs(kdialog, environ)
        if zenity:
            return ZenityDialogs(zenity, environ)
    return StderrDialogs(stderr if stderr is not None else sys.stderr)


def _which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))


def _run(argv: Sequence[str], environ: Mapping[str, str]) -> tuple[int, str]:
    done = subprocess.run(
        list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=dict(environ)
    )
    return done.returncode, done.stdout.decode("utf-8", "replace")


@contextmanager
def _text_file(text: str) -> Iterator[str]:
    """`text` in a private temporary file (never next to the user's images), removed afterwards."""
    fd, path = tempfile.mkstemp(prefix="mcv-answer-", suffix=".txt")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(markup.plain(text))
        yield path
    finally:
        os.unlink(path)


def _with_hint(message: str, hint: str | None) -> str:
    return f"{message}\n\nHow to fix it: {hint}" if hint else message


class ZenityDialogs:
    name = "zenity"

    def __init__(self, program: str, environ: Mapping[str, str]) -> None:
        self.program, self.environ = program, environ

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool:
        if is_short(text):
            body = markup.pango(text) if heading is None else f"<b>{markup.pango(heading)}</b>\n\n{markup.pango(text)}"
            argv = [self.program, "--info", f"--title={markup.plain(title)}", f"--text={body}", "--width=440",
                    "--ok-label=Close", "--extra-button=Copy"]  # fmt: skip
            code, out = _run(argv, self.environ)
            return code == 1 and out.strip() == "Copy"
        full = text if heading is None else f"{heading}\n\n{text}"
        with _text_file(full) as path:
            argv = [self.program, "--text-info", f"--title={markup.plain(title)}", f"--filename={path}",
                    f"--width={TEXT_SIZE[0]}", f"--height={TEXT_SIZE[1]}", "--ok-label=Copy", "--cancel-label=Close"]  # fmt: skip
            code, _ = _run(argv, self.environ)
        return code == 0

    def show_error(self, title: str, message: str, hint: str | None) -> None:
        _run([self.program, "--error", f"--title={markup.plain(title)}", f"--text={markup.pango(_with_hint(message, hint))}",
              "--width=440"], self.environ)  # fmt: skip

    def ask(self, title: str, prompt: str) -> str | None:
        # An entry's label is not markup but has mnemonics: only `_` needs care.
        code, out = _run([self.program, "--entry", f"--title={markup.plain(title)}", f"--text={markup.mnemonic_safe(prompt)}",
                          "--width=440"], self.environ)  # fmt: skip
        return out.rstrip("\n") if code == 0 else None


class KDialogs:
    name = "kdialog"

    def __init__(self, program: str, environ: Mapping[str, str]) -> None:
        self.program, self.environ = program, environ

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool:
        full = text if heading is None else f"{heading}\n\n{text}"
        if is_short(full):
            code, _ = _run([self.program, "--title", markup.plain(title), "--yesno", markup.qt_rich_text(full),
                            "--yes-label", "Copy", "--no-label", "Close"], self.environ)  # fmt: skip
            return code == 0
        with _text_file(full) as path:
            _run([self.program, "--title", markup.plain(title), "--textbox", path, *map(str, TEXT_SIZE)], self.environ)
        return False  # kdialog's text box has no extra button; its text can be selected and copied

    def show_error(self, title: str, message: str, hint: str | None) -> None:
        _run([self.program, "--title", markup.plain(title), "--error", markup.qt_rich_text(_with_hint(message, hint))],
             self.environ)  # fmt: skip

    def ask(self, title: str, prompt: str) -> str | None:
        code, out = _run([self.program, "--title", markup.plain(title), "--inputbox", markup.qt_rich_text(prompt), ""],
                         self.environ)  # fmt: skip
        return out.rstrip("\n") if code == 0 else None


# AppleScript sources are fixed; the text arrives as `argv` items, so nothing in it is ever code.
_AS_TEXT = (
    "on run argv",
    'set answer to display dialog (item 1 of argv) with title (item 2 of argv) buttons {"Copy", "Close"} '
    'default button "Close"',
    "return button returned of answer",
    "end run",
)
_AS_ERROR = ("on run argv", "display alert (item 1 of argv) message (item 2 of argv) as critical", "end run")
_AS_ASK = (
    "on run argv",
    'return text returned of (display dialog (item 1 of argv) default answer "" with title (item 2 of argv))',
    "end run",
)


class AppleScriptDialogs:
    name = "osascript"

    def __init__(self, program: str, environ: Mapping[str, str]) -> None:
        self.program, self.environ = program, environ

    def _script(self, lines: Sequence[str], *items: str) -> tuple[int, str]:
        argv = [self.program]
        for line in lines:
            argv += ["-e", line]
        return _run([*argv, "--", *map(markup.plain, items)], self.environ)

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool:
        code, out = self._script(_AS_TEXT, text if heading is None else f"{heading}\n\n{text}", title)
        return code == 0 and out.strip() == "Copy"

    def show_error(self, title: str, message: str, hint: str | None) -> None:
        self._script(_AS_ERROR, title, _with_hint(message, hint))

    def ask(self, title: str, prompt: str) -> str | None:
        code, out = self._script(_AS_ASK, prompt, title)
        return out.rstrip("\n") if code == 0 else None


class WindowsDialogs:
    """MessageBoxW through ctypes (no console, no PowerShell); a question through tkinter."""

    name = "windows"
    _MB_YESNO, _MB_ICONERROR, _MB_ICONINFORMATION, _IDYES = 0x4, 0x10, 0x40, 6

    def _box(self, text: str, title: str, flags: int) -> int:
        import ctypes

        return ctypes.windll.user32.MessageBoxW(None, markup.plain(text), markup.plain(title), flags)  # type: ignore[attr-defined]

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool:
        full = text if heading is None else f"{heading}\n\n{text}"
        answer = self._box(f"{full}\n\nCopy this to the clipboard?", title, self._MB_YESNO | self._MB_ICONINFORMATION)
        return answer == self._IDYES

    def show_error(self, title: str, message: str, hint: str | None) -> None:
        self._box(_with_hint(message, hint), title, self._MB_ICONERROR)

    def ask(self, title: str, prompt: str) -> str | None:
        import tkinter
        from tkinter import simpledialog

        root = tkinter.Tk()
        root.withdraw()
        try:
            return simpledialog.askstring(markup.plain(title), markup.plain(prompt), parent=root)
        finally:
            root.destroy()


class StderrDialogs:
    """No graphical dialog tool: the text goes to stderr (a terminal, or the file manager's log)."""

    name = "stderr"

    def __init__(self, stream) -> None:
        self.stream = stream

    def show_text(self, title: str, text: str, *, heading: str | None = None) -> bool:
        full = text if heading is None else f"{heading}\n\n{text}"
        self.stream.write(f"{title}\n\n{full}\n")
        self.stream.flush()
        return False

    def show_error(self, title: str, message: str, hint: str | None) -> None:
        self.stream.write(f"mcv: error: {message}\n" + (f"mcv: hint: {hint}\n" if hint else ""))
        self.stream.flush()

    def ask(self, title: str, prompt: str) -> str | None:
        return None
