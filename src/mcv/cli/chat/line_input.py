"""Reading what the user types: prompt_toolkit on a terminal, plain lines from a pipe.

On a terminal: line editing, a history file (Up/Down, Ctrl-R), Tab
completion of commands and of paths after /image, /save and /load.
Enter sends; Alt-Enter (or Esc then Enter) starts a new line; a message
that starts with three double quotes goes on over several lines until
they close it. Ctrl-C clears the line; Ctrl-D leaves, keeping any text
typed (it comes back as the draft of `mcv chat --continue`, and in the
input history). The input history file stays small: an entry longer than
`MAX_STORED` characters (a pasted document) is remembered for this chat
only, and a file grown past `MAX_FILE_BYTES` keeps its newest half.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Iterable, Sequence

TRIPLE = '"""'
MAX_STORED = 4096  # characters of one entry written to the input history file
MAX_FILE_BYTES = 1 << 20  # the input history file is cut to its newest half past this


class EndOfInput(Exception):
    """The user left (Ctrl-D, end of a pipe); `text` is what was typed and not sent."""

    def __init__(self, text: str = "") -> None:
        super().__init__(text)
        self.text = text


def open_block(text: str) -> bool:
    """A `\"\"\"` message not closed yet."""
    stripped = text.strip()
    return stripped.startswith(TRIPLE) and not (len(stripped) >= 6 and stripped.endswith(TRIPLE))


def unwrap_block(text: str) -> str:
    """The message inside `\"\"\"` delimiters (text without them is returned as it is)."""
    stripped = text.strip()
    if stripped.startswith(TRIPLE):
        stripped = stripped[3:]
        if stripped.endswith(TRIPLE):
            stripped = stripped[:-3]
        return stripped.strip("\n")
    return text


class TerminalReader:
    def __init__(self, history_file: Path | None, completer) -> None:
        from prompt_toolkit import PromptSession
        from prompt_toolkit.filters import Condition
        from prompt_toolkit.history import FileHistory, InMemoryHistory
        from prompt_toolkit.key_binding import KeyBindings

        history = InMemoryHistory()
        if history_file is not None:
            try:
                history_file.parent.mkdir(parents=True, exist_ok=True)
                history_file.touch(exist_ok=True)
                _trim(history_file)
                history = _bounded(FileHistory)(str(history_file))
            except OSError:
                pass  # a read-only state folder: the chat works, Up/Down forget on exit
        self._history = history
        keys = KeyBindings()

        @keys.add("escape", "enter")
        @keys.add("escape", "c-j")  # typed ahead of the prompt, the terminal turned Enter into a line feed
        def _new_line(event) -> None:
            event.current_buffer.insert_text("\n")

        @keys.add("enter", filter=Condition(lambda: open_block(self._session.default_buffer.text)))
        def _block_line(event) -> None:
            event.current_buffer.insert_text("\n")

        @keys.add("c-d")
        def _leave(event) -> None:
            text = event.current_buffer.text
            if text.strip():
                self._remember(text)
            event.app.exit(exception=EndOfInput(text))

        self._session = PromptSession(
            history=history,
            completer=completer,
            complete_while_typing=False,
            key_bindings=keys,
            enable_history_search=False,
            prompt_continuation=lambda width, line, wrap: "... ".rjust(width),
        )

    def _remember(self, text: str) -> None:
        try:
            self._history.append_string(text)
        except OSError:
            pass

    def remember(self, text: str) -> None:
        """Put `text` in the input history (Up brings it back), unless it is the latest entry already."""
        latest = self._history.get_strings()[-1:]
        if text.strip() and latest != [text]:
            self._remember(text)

    def read(self, prompt: str, default: str = "") -> str:
        """The next message; KeyboardInterrupt for Ctrl-C, EndOfInput to leave."""
        try:
            return self._session.prompt(prompt, default=default)
        except EOFError:
            raise EndOfInput("") from None


class PipeReader:
    """Lines from a pipe or file: the same messages and commands, no prompt."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._lines = _decoded(stream)

    def remember(self, text: str) -> None:
        """No input history: the lines are in the file they came from."""

    def read(self, prompt: str, default: str = "") -> str:
        line = next(self._lines, None)
        if line is None:
            raise EndOfInput("")
        if not open_block(line):
            return line
        lines = [line]
        for more in self._lines:
            lines.append(more)
            if more.rstrip().endswith(TRIPLE):
                break
        return "\n".join(lines)


def _decoded(stream: IO[bytes]) -> Iterable[str]:
    """Lines as text: CRLF or LF ends, and a byte-order mark (Windows editors write one) dropped."""
    for number, raw in enumerate(stream):
        if number == 0:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


def _bounded(base):
    """prompt_toolkit's FileHistory, writing only entries of at most MAX_STORED characters."""

    class BoundedFileHistory(base):
        def store_string(self, string: str) -> None:
            if len(string) <= MAX_STORED:  # a longer one stays in memory (Up still finds it)
                super().store_string(string)

    return BoundedFileHistory


def _trim(path: Path) -> None:
    """Cut an input history file grown past MAX_FILE_BYTES to its newest entries (about half)."""
    from prompt_toolkit.history import FileHistory

    from mcv.core.atomic import write_atomically

    if os.path.getsize(path) <= MAX_FILE_BYTES:
        return
    kept: list[str] = []
    size = 0
    for entry in FileHistory(str(path)).load_history_strings():  # newest first
        if len(entry) > MAX_STORED:
            continue
        size += len(entry.encode("utf-8", "replace")) + 40
        if size > MAX_FILE_BYTES // 2:
            break
        kept.append(entry)
    text = "".join("\n# kept\n" + "".join(f"+{line}\n" for line in entry.split("\n")) for entry in reversed(kept))
    write_atomically(path, text)


class ChatCompleter:
    """Commands after `/`; then each command's own argument: paths, on/off, option names, image numbers.

    Paths complete as a shell would: the word being typed may be quoted or
    have `\\ ` escapes (a name with spaces), and what is inserted is quoted or
    escaped the same way, so the line still reads as the one path it is.
    """

    def __init__(self, commands: Sequence, options: Sequence[str], image_count) -> None:
        from prompt_toolkit.completion import Completer, PathCompleter

        self._commands = {command.name: command for command in commands}
        self._options = sorted(options)
        self._image_count = image_count
        self._paths = PathCompleter(expanduser=True)
        outer = self

        class _Completer(Completer):
            def get_completions(self, document, complete_event):
                return outer.completions(document, complete_event)

        self.completer = _Completer()

    def completions(self, document, event):
        from prompt_toolkit.completion import Completion

        text = document.text_before_cursor
        if not text.startswith("/") or "\n" in text:
            return
        name, space, argument = text.partition(" ")
        if not space:
            for command in self._commands.values():
                if command.name.startswith(name):
                    yield Completion(command.name, start_position=-len(name), display_meta=command.help)
            return
        command = self._commands.get(name)
        kind = command.complete if command is not None else None
        if kind == "path":
            yield from self._path_completions(argument, event)
            return
        word = argument.split(" ")[-1]
        choices: list[str] = []
        if kind == "onoff":
            choices = ["on", "off"]
        elif kind == "option" and " " not in argument and "=" not in argument:
            choices = self._options
        elif kind == "image":
            choices = [str(n) for n in range(1, self._image_count() + 1)]
        for choice in choices:
            if choice.startswith(word):
                yield Completion(choice, start_position=-len(word))

    def _path_completions(self, argument: str, event):
        from prompt_toolkit.completion import Completion
        from prompt_toolkit.document import Document

        raw, value, quote = current_word(argument)
        opened = raw[:1] if raw[:1] in ("'", '"') else ""
        for found in self._paths.get_completions(Document(value, len(value)), event):
            path = value[: len(value) + found.start_position] + found.text
            is_folder = os.path.isdir(os.path.expanduser(path))
            yield Completion(
                quoted_path(path, opened or quote, close=not is_folder),
                start_position=-len(raw),
                display=found.display,
            )


_BLANKS = " \t"


def current_word(argument: str) -> tuple[str, str, str]:
    """The word being typed at the end of `argument`, as shlex reads words:
    (its text as typed, its value without quotes and escapes, the quote still open or "")."""
    start, value, quote, escaped = 0, [], "", False
    for index, char in enumerate(argument):
        if escaped:
            value.append(char)
            escaped = False
        elif quote:
            if char == quote:
                quote = ""
            elif char == "\\" and quote == '"':
                escaped = True
            else:
                value.append(char)
        elif char == "\\":
            escaped = True
        elif char in ("'", '"'):
            quote = char
        elif char in _BLANKS:
            start, value = index + 1, []
        else:
            value.append(char)
    return argument[start:], "".join(value), quote


def quoted_path(path: str, quote: str = "", *, close: bool = True) -> str:
    """`path` written so that shlex reads it back as one word: inside the quote the user
    opened, or with spaces, quotes and backslashes escaped."""
    if quote == "'":
        return "'" + path.replace("'", "'\\''") + ("'" if close else "")
    if quote == '"':
        escaped = "".join("\\" + c if c in '"\\$`' else c for c in path)
        return '"' + escaped + ('"' if close else "")
    return "".join("\\" + c if c in " \t\n'\"\\" else c for c in path)
