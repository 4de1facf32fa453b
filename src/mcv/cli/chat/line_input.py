"""Reading what the user types: prompt_toolkit on a terminal, plain lines from a pipe.

On a terminal: line editing, a history file (Up/Down, Ctrl-R), Tab
completion of commands and of paths after /image, /save and /load.
Enter sends; Alt-Enter (or Esc then Enter) starts a new line; a message
that starts with three double quotes goes on over several lines until
they close it. Ctrl-C clears the line; Ctrl-D leaves, keeping any text
typed (it comes back as the draft of `mcv chat --continue`, and in the
input history).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO, Iterable, Sequence

TRIPLE = '"""'


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
                history = FileHistory(str(history_file))
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
    for raw in stream:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


class ChatCompleter:
    """Commands after `/`; then each command's own argument: paths, on/off, option names, image numbers."""

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
        from prompt_toolkit.document import Document

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
        word = argument.split(" ")[-1]
        if kind == "path":
            yield from self._paths.get_completions(Document(word, len(word)), event)
            return
        choices: list[str] = []
        if kind == "onoff":
            choices = ["on", "off"]
        elif kind == "option" and " " not in argument:
            choices = self._options
        elif kind == "image":
            choices = [str(n) for n in range(1, self._image_count() + 1)]
        for choice in choices:
            if choice.startswith(word):
                yield Completion(choice, start_position=-len(word))
