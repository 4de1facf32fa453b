"""What a batch works on: `PATH|GLOB...` expanded into files, in a stable order.

- A folder is walked recursively (sorted, hidden files and folders left
  out). A symbolic link to a folder is not followed (a link loop, or a link
  to `/`), but listed, so that the batch reports it skipped. What a file
  is, is decided later by its magic bytes, not its name; only the files a
  batch itself writes and never images (sidecars .xmp/.txt/.json, result
  tables .jsonl/.csv) are passed over, so a second run does not list its
  own outputs.
- A file named on the command line, or matched by a glob (`photos/*.jpg`,
  `**/*.png`), is always tried.
- The same file reached twice (overlapping arguments, a symlink) counts once.
- The batch's own result file (`--output`) is never one of its inputs.

Files found by walking that turn out not to be images (or not files: a
broken link, a FIFO) are skipped with a reason; files the user named (or
patterned) that are not images are failures.

Labels (how records and messages show a file) are always valid text. A file
name that is not valid UTF-8 (a name from an old Windows share or a camera
card, in Latin-1) cannot be JSON or CSV text as it is: its label shows each
undecodable byte as `\\xNN` and doubles every backslash, and `escaped` says
so; `codecs.escape_decode(label.encode())[0]` gives the name's bytes back.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Collection, Iterable

from mcv.errors import UsageError

# Never images, and what mcv batch itself writes beside them.
NOT_SCANNED = frozenset({".xmp", ".txt", ".json", ".jsonl", ".csv"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Input:
    path: str  # as it is opened (absolute; undecodable bytes as Python's surrogate escapes)
    label: str  # as records and messages show it (the user's spelling + the walked part; valid text)
    named: bool  # named or globbed by the user (a non-image is a failure), not found by walking
    escaped: bool = False  # the label escapes a name that is not UTF-8 (module docstring)


def shown(path: str) -> tuple[str, bool]:
    """(`path` as valid text, whether it had to be escaped): module docstring."""
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.replace(b"\\", b"\\\\").decode("utf-8", "backslashreplace"), True


@dataclass(frozen=True)
class Unlisted:
    """A folder that could not be listed: reported, not fatal."""

    label: str
    reason: str
    escaped: bool = False


def expand(arguments: Iterable[str], *, leave_out: Collection[str] = ()) -> tuple[list[Input], list[Unlisted]]:
    """The files of PATH|GLOB... arguments, and the folders that could not be listed.

    `leave_out`: real paths that are never inputs (the batch's own output
    file), unless an argument names one itself. UsageError for an argument
    that names nothing (a typo should not start a long batch).
    """
    inputs: list[Input] = []
    unlisted: list[Unlisted] = []
    seen: set[str] = set()
    left_out = set(leave_out)

    def add(path: str, label: str, named: bool, outright: bool = False, linked: bool = False) -> None:
        key = path if linked else os.path.realpath(path)  # a link to a folder: listed once per link
        if key not in seen and (outright or key not in left_out):
            seen.add(key)
            text, escaped = shown(label)
            inputs.append(Input(os.path.abspath(path), text, named, escaped))

    for argument in arguments:
        path = os.path.expanduser(argument)
        if os.path.isdir(path):
            _walk(path, argument, add, unlisted)
        elif os.path.lexists(path):
            add(path, argument, True, outright=True)  # even a left-out file: the caller refuses it
        elif _GLOB_CHARS & set(argument):
            matches = sorted(glob.glob(path, recursive=True))
            if not matches:
                raise UsageError(f"{argument}: matches no file")
            for match in matches:
                if os.path.isdir(match):
                    _walk(match, match, add, unlisted)
                else:
                    add(match, match, True)
        else:
            raise UsageError(f"{argument}: no such file or folder")
    return inputs, unlisted


def _walk(root: str, label_root: str, add, unlisted: list[Unlisted]) -> None:
    def failed(err: OSError) -> None:
        where = err.filename or root
        relative = os.path.relpath(where, root)
        label = label_root if relative == "." else os.path.join(label_root, relative)
        text, escaped = shown(label)
        unlisted.append(Unlisted(text, f"cannot list the folder ({err.strerror or err})", escaped))

    for folder, dirs, files in os.walk(root, onerror=failed, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = os.path.relpath(folder, root)
        # A symbolic link to a folder is not followed (loops, or half the disk), but listed:
        # prep.py skips it with its reason, so that nothing is passed over in silence.
        linked = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        dirs[:] = [d for d in dirs if d not in linked]
        for name in sorted([*files, *linked]):
            if name.startswith(".") or os.path.splitext(name)[1].lower() in NOT_SCANNED:
                continue
            label = os.path.join(label_root, name) if relative == "." else os.path.join(label_root, relative, name)
            add(os.path.join(folder, name), os.path.normpath(label), False, linked=name in linked)
