"""One entry merged into another program's JSON settings file, every other byte kept.

    merged = set_member(text, ("mcpServers", "mcv"), {"command": "/usr/bin/mcv", "args": ["mcp"]})
    text_again = remove_member(merged, ("mcpServers", "mcv"))

The file is not re-serialised: the member's value is spliced in (or out) as
text, so the person's own keys, order, indentation and comments stay as they
are. Files written by editors may be JSON with comments and trailing commas
(VS Code, Zed): both are read. Removing the last member of an object mcv had
to add takes that object out too.

`MergeJson` is the install change: a MergeFile (changes.py, so uninstall
reverts it like any merge) that first keeps a copy of the file as it was,
`<name>.mcv-backup`, whenever the install changes it. An object that held
mcv's entry is left in place on uninstall when it was there before the first
install (VS Code writes `"servers": {}`), and taken out when mcv added it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from mcv.errors import InputError
from mcv.plugins.install.changes import MergeFile, read_bytes, write_file

BACKUP_SUFFIX = ".mcv-backup"


# --- a JSON(C) reader that keeps where things are -----------------------------------------------


@dataclass
class _Object:
    start: int  # index of "{"
    end: int  # index of "}"
    members: list[tuple[str, int, int, int, Any]]  # (key, key start, value start, value end, parsed value or _Object)


class _Scanner:
    def __init__(self, text: str, where: str) -> None:
        self.text, self.where, self.pos = text, where, 0

    def fail(self, what: str) -> InputError:
        line = self.text.count("\n", 0, self.pos) + 1
        return InputError(f"{self.where} is not valid JSON ({what} at line {line}): left as it is", hint="fix or move the file, then install again")

    def skip(self) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r\n\ufeff":
                self.pos += 1
            elif text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end + 1
            elif text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("an unterminated comment")
                self.pos = end + 2
            else:
                return

    def value(self) -> Any:
        self.skip()
        if self.pos >= len(self.text):
            raise self.fail("a missing value")
        char = self.text[self.pos]
        if char == "{":
            return self.object()
        if char == "[":
            return self.array()
        if char == '"':
            return self.string()
        decoder = json.JSONDecoder()
        try:
            value, end = decoder.raw_decode(self.text, self.pos)
        except ValueError:
            raise self.fail("an unexpected character") from None
        self.pos = end
        return value

    def string(self) -> str:
        try:
            value, end = json.decoder.scanstring(self.text, self.pos + 1)
        except ValueError:
            raise self.fail("a broken string") from None
        self.pos = end
        return value

    def array(self) -> list:
        self.pos += 1
        items = []
        while True:
            self.skip()
            if self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            items.append(self.value())
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("]", self.pos):
                raise self.fail("a missing ',' or ']'")

    def object(self) -> _Object:
        start = self.pos
        self.pos += 1
        members = []
        while True:
            self.skip()
            if self.text.startswith("}", self.pos):
                self.pos += 1
                return _Object(start, self.pos - 1, members)
            if not self.text.startswith('"', self.pos):
                raise self.fail("a key that is not a string")
            key_start = self.pos
            key = self.string()
            self.skip()
            if not self.text.startswith(":", self.pos):
                raise self.fail("a missing ':'")
            self.pos += 1
            self.skip()
            value_start = self.pos
            value = self.value()
            members.append((key, key_start, value_start, self.pos, value))
            self.skip()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif not self.text.startswith("}", self.pos):
                raise self.fail("a missing ',' or '}'")


def _parse(text: str, where: str) -> _Object:
    scanner = _Scanner(text, where)
    scanner.skip()
    if not text.startswith("{", scanner.pos):
        raise scanner.fail("no object at the top")
    top = scanner.object()
    scanner.skip()
    if scanner.pos != len(text):
        raise scanner.fail("text after the top object")
    return top


# --- splicing ----------------------------------------------------------------------------------


def _line_indent(text: str, index: int) -> str:
    start = text.rfind("\n", 0, index) + 1
    line = text[start:index]
    return line[: len(line) - len(line.lstrip(" \t"))]


def _member_indent(text: str, obj: _Object) -> tuple[str, str]:
    """(indent of the object's members, one indent step) as the file writes them."""
    outer = _line_indent(text, obj.end) if "\n" in text[obj.start : obj.end] else _line_indent(text, obj.start)
    if obj.members:
        inner = _line_indent(text, obj.members[0][1])
        if len(inner) > len(outer):
            return inner, inner[len(outer):]
    step = _file_step(text)
    return outer + step, step


def _file_step(text: str) -> str:
    """The file's indent step: its first indented line's (two spaces when nothing is indented)."""
    for line in text.splitlines():
        stripped = line.lstrip(" \t")
        if stripped and stripped != line:
            return line[: len(line) - len(stripped)]
    return "  "


def _dump(value: Any, indent: str, step: str) -> str:
    text = json.dumps(value, indent=len(step) if step.strip(" ") == "" else "\t", ensure_ascii=False)
    return text.replace("\n", "\n" + indent)


def _insert(text: str, obj: _Object, key: str, value: Any) -> str:
    indent, step = _member_indent(text, obj)
    member = f"{json.dumps(key, ensure_ascii=False)}: {_dump(value, indent, step)}"
    if obj.members:
        last_end = obj.members[-1][3]
        scanner = _Scanner(text, "")
        scanner.pos = last_end
        scanner.skip()
        trailing_comma = text.startswith(",", scanner.pos)
        insert_at = scanner.pos + 1 if trailing_comma else last_end
        return text[:insert_at] + ("" if trailing_comma else ",") + "\n" + indent + member + ("," if trailing_comma else "") + text[insert_at:]
    closing_indent = indent[: len(indent) - len(step)] if indent.endswith(step) else ""
    return text[: obj.start + 1] + "\n" + indent + member + "\n" + closing_indent + text[obj.end :]


def _after_comma(text: str, value_end: int) -> int | None:
    """Where a comma right after a value ends (comments and spaces between allowed); None: no comma."""
    scanner = _Scanner(text, "")
    scanner.pos = value_end
    scanner.skip()
    return scanner.pos + 1 if text.startswith(",", scanner.pos) else None


def _remove(text: str, obj: _Object, index: int) -> str:
    """`text` without member `index` of `obj`: the exact inverse of `_insert` for what it added."""
    _, key_start, _, value_end, _ = obj.members[index]
    if len(obj.members) == 1:
        return text[: obj.start + 1] + text[obj.end :]
    if index < len(obj.members) - 1:  # a member with another after it: up to the next key's line
        next_key = obj.members[index + 1][1]
        if "\n" in text[value_end:next_key]:
            start = text.rfind("\n", 0, key_start) + 1 if "\n" in text[obj.start : key_start] else key_start
            return text[:start] + text[text.rfind("\n", 0, next_key) + 1 :]
        return text[:key_start] + text[next_key:]
    # the last of several: from the end of the value before it
    prev_end = obj.members[index - 1][3]
    own_comma = _after_comma(text, value_end)
    return text[:prev_end] + ("," if own_comma else "") + text[own_comma or value_end :]


def set_member(text: str, path: tuple[str, ...], value: Any, where: str = "the file") -> str:
    """`text` with `path` (keys from the top object down) set to `value`; objects on the way are added."""
    obj = _parse(text, where)
    for depth, key in enumerate(path):
        found = next(((i, m) for i, m in enumerate(obj.members) if m[0] == key), None)
        rest = path[depth + 1 :]
        if found is None:
            nested: Any = value
            for inner in reversed(rest):
                nested = {inner: nested}
            return _insert(text, obj, key, nested)
        _, (_, _, value_start, value_end, parsed) = found
        if not rest:
            indent, step = _member_indent(text, obj)
            return text[:value_start] + _dump(value, indent, step) + text[value_end:]
        if not isinstance(parsed, _Object):
            raise InputError(f"{where}: {key!r} is not an object: left as it is")
        obj = parsed
    raise AssertionError("empty path")


def remove_member(text: str, path: tuple[str, ...], where: str = "the file", *, keep_parents: bool = False) -> str:
    """`text` without `path`; an object on the way that this leaves empty goes too, unless `keep_parents`
    (it was there before mcv's entry was put in it)."""
    for depth in range(len(path), len(path) - 1 if keep_parents else 0, -1):
        prefix = path[:depth]
        located = _locate(text, prefix, where)
        if located is None:
            return text
        container, index = located
        member_value = container.members[index][4]
        if depth < len(path) and not (isinstance(member_value, _Object) and not member_value.members):
            break  # the parent still holds other entries
        text = _remove(text, container, index)
    return text


def _locate(text: str, path: tuple[str, ...], where: str) -> tuple[_Object, int] | None:
    """(the object holding the last key of `path`, that member's index), or None."""
    obj = _parse(text, where)
    for depth, key in enumerate(path):
        index = next((i for i, m in enumerate(obj.members) if m[0] == key), None)
        if index is None:
            return None
        if depth == len(path) - 1:
            return obj, index
        value = obj.members[index][4]
        if not isinstance(value, _Object):
            return None
        obj = value
    return None


def get_member(text: str, path: tuple[str, ...], where: str = "the file") -> Any:
    """The plain value at `path`, or None."""
    obj: Any = _parse(text, where)
    for key in path:
        if not isinstance(obj, _Object):
            return None
        found = next((m for m in obj.members if m[0] == key), None)
        if found is None:
            return None
        obj = found[4]
    return _plain(obj)


def _plain(value: Any) -> Any:
    if isinstance(value, _Object):
        return {key: _plain(v) for key, _, _, _, v in value.members}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


# --- a top-level array (VS Code's extensions.json) ---------------------------------------------


def _array_items(text: str, where: str) -> tuple[int, int, list[tuple[int, int, Any]]]:
    """(index of "[", index of "]", [(item start, item end, plain value)]) of a file that is one array."""
    scanner = _Scanner(text, where)
    scanner.skip()
    if not text.startswith("[", scanner.pos):
        raise scanner.fail("no array at the top")
    start = scanner.pos
    scanner.pos += 1
    items = []
    while True:
        scanner.skip()
        if text.startswith("]", scanner.pos):
            end = scanner.pos
            break
        item_start = scanner.pos
        value = scanner.value()
        items.append((item_start, scanner.pos, _plain(value)))
        scanner.skip()
        if text.startswith(",", scanner.pos):
            scanner.pos += 1
        elif not text.startswith("]", scanner.pos):
            raise scanner.fail("a missing ',' or ']'")
    return start, end, items


def remove_array_items(text: str, matches, where: str = "the file") -> str:
    """`text` without the top-level array's items that `matches(value)`; the other bytes kept."""
    while True:
        start, end, items = _array_items(text, where)
        found = next((i for i, item in enumerate(items) if matches(item[2])), None)
        if found is None:
            return text
        item_start, item_end, _ = items[found]
        if found > 0:  # from the end of the item before it (its comma with it)
            text = text[: items[found - 1][1]] + text[item_end:]
        elif len(items) > 1:  # the first of several: up to the next item
            text = text[:item_start] + text[items[1][0] :]
        else:
            text = text[: start + 1] + text[end:]


def append_array_item(text: str, value: Any, matches, where: str = "the file") -> str:
    """`text` with `value` last in its top-level array, earlier items that `matches` taken out."""
    text = remove_array_items(text, matches, where)
    start, end, items = _array_items(text, where)
    item = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if items:
        return text[: items[-1][1]] + "," + item + text[items[-1][1] :]
    return text[: start + 1] + item + text[end:]


# --- the install change ------------------------------------------------------------------------


@dataclass(frozen=True)
class MergeJson(MergeFile):
    """A MergeFile that keeps `<file>.mcv-backup`, the file as it was before this install changed it."""

    def describe(self) -> str:
        return f"{self.path} (mcv's entry merged in, the rest kept; backup {self.path.name}{BACKUP_SUFFIX})"

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        current = read_bytes(self.path)
        if current is not None and self.merge(current) != current:
            backup = self.path.with_name(self.path.name + BACKUP_SUFFIX)
            # atomic, and a link in the backup's place is replaced, never written through
            write_file(backup, current, self.path.stat().st_mode & 0o777)
        record = super().apply(previous)
        if previous and previous.get("path") == str(self.path) and previous.get("unmerge"):
            # How to take the entry out was decided by the first install (did the parent object exist?).
            record["unmerge"] = previous["unmerge"]
        if current is not None:
            record["backup"] = str(self.path.with_name(self.path.name + BACKUP_SUFFIX))
        return record


def json_merge_functions(path: tuple[str, ...], value: Any, where: str, *, keep_parents: bool = False):
    """(merge, unmerge) over bytes for a MergeJson."""

    def merge(data: bytes) -> bytes:
        text = _decode(data, where)
        if get_member(text, path, where) == value:
            return data  # already as planned: not a byte changes
        return set_member(text, path, value, where).encode("utf-8")

    def unmerge(data: bytes) -> bytes:
        return remove_member(_decode(data, where), path, where, keep_parents=keep_parents).encode("utf-8")

    return merge, unmerge


def _decode(data: bytes, where: str) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{where} is not UTF-8 text: left as it is") from None
    return text if text.strip() else "{}\n"
