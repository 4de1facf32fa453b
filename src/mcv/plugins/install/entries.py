"""Command lines inside other programs' files, written by the rules each one reads them with.

- Desktop Entry `Exec` (Dolphin, PCManFM-Qt, Nemo, GLib launchers): an argument
  with a reserved character is double-quoted whole, with `"` `` ` `` `$` `\\`
  backslash-escaped; `%` is written `%%`; the file list is the field code `%F`,
  an argument on its own, after `--`. The keyfile's own string escapes come
  on top (`keyfile_value`).
- Thunar and shell scripts run `/bin/sh -c`: words are shell-quoted
  (`shell_words`); Thunar shell-quotes each path it puts in for `%F`, so `%F`
  stays bare.

`lint_exec` / `lint_shell_command` are the project's own checks (tests run
them on every generated entry): no field code inside quotes, one file field
code, `--` right before it, an absolute program, no `sh -c`.
"""

from __future__ import annotations

import re
import shlex
from typing import Sequence

RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_FIELD_CODES = set("fFuUdDnNickvm%")
_FILE_CODES = {"%f", "%F", "%u", "%U"}
_SHELLS = {"sh", "bash", "dash", "zsh", "ksh", "fish", "csh", "tcsh"}


def exec_quote(word: str) -> str:
    word = word.replace("%", "%%")
    if word and not RESERVED.intersection(word):
        return word
    return '"' + re.sub(r'([`"$\\])', r"\\\1", word) + '"'


def exec_line(words: Sequence[str], field_code: str = "%F") -> str:
    """`words`, then `--`, then the field code: an Exec value (before keyfile escaping)."""
    return " ".join(exec_quote(word) for word in words) + f" -- {field_code}"


def keyfile_value(text: str) -> str:
    """A string value as a GKeyFile / desktop entry writes it."""
    out = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return "\\s" + out[1:] if out.startswith(" ") else out


def keyfile(groups: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> bytes:
    """A keyfile from (group, ((key, value), ...)) pairs; values are escaped here."""
    lines: list[str] = []
    for name, entries in groups:
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        lines.extend(f"{key}={keyfile_value(value)}" for key, value in entries)
    return ("\n".join(lines) + "\n").encode("utf-8")


def shell_words(words: Sequence[str]) -> str:
    return " ".join(shlex.quote(word) for word in words)


# --- the project's own checks ------------------------------------------------------------------


def split_exec(value: str) -> list[tuple[str, bool]]:
    """An Exec value (keyfile escapes already undone) as (argument, quoted) pairs, per the spec."""
    words: list[tuple[str, bool]] = []
    current: list[str] | None = None
    quoted = was_quoted = False
    index = 0
    while index < len(value):
        char = value[index]
        if quoted:
            if char == "\\" and index + 1 < len(value) and value[index + 1] in '"`$\\':
                current.append(value[index + 1])
                index += 2
                continue
            if char == '"':
                quoted = False
            else:
                current.append(char)
        elif char == " ":
            if current is not None:
                words.append(("".join(current), was_quoted))
                current = None
        elif char == '"':
            if current is None:
                current, was_quoted = [], False
            quoted = was_quoted = True
        else:
            if current is None:
                current, was_quoted = [], False
            current.append(char)
        index += 1
    if quoted:
        raise ValueError("unterminated quote")
    if current is not None:
        words.append(("".join(current), was_quoted))
    return words


def lint_exec(value: str) -> list[str]:
    """What is wrong with a Desktop Entry Exec value (empty: nothing)."""
    try:
        words = split_exec(value)
    except ValueError as err:
        return [str(err)]
    problems = []
    file_codes = []
    for position, (word, quoted) in enumerate(words):
        codes = re.findall(r"%(.)", word.replace("%%", ""))
        unknown = [code for code in codes if code not in _FIELD_CODES]
        if unknown:
            problems.append(f"unknown field code %{unknown[0]} in {word!r}")
        if quoted and codes:
            problems.append(f"field code inside a quoted argument: {word!r}")
        if word in _FILE_CODES:
            file_codes.append(position)
        elif any(f"%{code}" in _FILE_CODES for code in codes):
            problems.append(f"a file field code must be an argument on its own: {word!r}")
    problems += _common([word for word, _ in words], file_codes)
    return problems


def lint_shell_command(command: str, field_code: str = "%F") -> list[str]:
    """The same checks for a command that a launcher runs with `/bin/sh -c` (Thunar)."""
    try:
        words = shlex.split(command)
    except ValueError as err:
        return [str(err)]
    problems = []
    positions = [index for index, word in enumerate(words) if word == field_code]
    if len(positions) == 1 and field_code not in command.split(" "):
        problems.append(f"{field_code} is quoted (the launcher quotes each path itself)")
    if any(field_code in word and word != field_code for word in words):
        problems.append(f"{field_code} must be a word on its own")
    return problems + _common(words, positions)


def _common(words: list[str], file_positions: list[int]) -> list[str]:
    problems = []
    if len(file_positions) != 1:
        problems.append(f"expected exactly one file field code, found {len(file_positions)}")
    elif file_positions[0] == 0 or words[file_positions[0] - 1] != "--":
        problems.append("`--` must come right before the paths")
    if not words or not words[0].startswith("/") and not re.match(r"^[A-Za-z]:\\", words[0]):
        problems.append("the program must be an absolute path")
    for index, word in enumerate(words[:-1]):
        if word.rsplit("/", 1)[-1] in _SHELLS and words[index + 1] == "-c":
            problems.append("runs a shell (`sh -c`)")
    return problems
