"""What a batch works on: `PATH|GLOB...` expanded into files, in a stable order.

- A folder is walked recursively (sorted, symlinked folders not followed,
  hidden files and folders left out). What a file is, is decided later by
  its magic bytes, not its name; only the files a batch itself writes and
  never images (sidecars .xmp/.txt/.json, result tables .jsonl/.csv) are
  passed over, so a second run does not list its own outputs.
- A file named on the command line, or matched by a glob (`photos/*.jpg`,
  `**/*.png`), is always tried.
- The same file reached twice (overlapping arguments, a symlink) counts once.

Files found by walking that turn out not to be images are skipped with a
reason; files the user named (or patterned) that are not images are failures.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from typing import Iterable

from mcv.errors import UsageError

# Never images, and what mcv batch itself writes beside them.
NOT_SCANNED = frozenset({".xmp", ".txt", ".json", ".jsonl", ".csv"})
_GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Input:
    path: str  # as it is opened (absolute)
    label: str  # as records and messages show it (the user's spelling + the walked part)
    named: bool  # named or globbed by the user (a non-image is a failure), not found by walking


@dataclass(frozen=True)
class Unlisted:
    """A folder that could not be listed: reported, not fatal."""

    label: str
    reason: str


def expand(arguments: Iterable[str]) -> tuple[list[Input], list[Unlisted]]:
    """The files of PATH|GLOB... arguments, and the folders that could not be listed.

    UsageError for an argument that names nothing (a typo should not start a long batch).
    """
    inputs: list[Input] = []
    unlisted: list[Unlisted] = []
    seen: set[str] = set()

    def add(path: str, label: str, named: bool) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            inputs.append(Input(os.path.abspath(path), label, named))

    for argument in arguments:
        path = os.path.expanduser(argument)
        if os.path.isdir(path):
            _walk(path, argument, add, unlisted)
        elif os.path.lexists(path):
            add(path, argument, True)
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
        unlisted.append(Unlisted(label, f"cannot list the folder ({err.strerror or err})"))

    for folder, dirs, files in os.walk(root, onerror=failed, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        relative = os.path.relpath(folder, root)
        for name in sorted(files):
            if name.startswith(".") or os.path.splitext(name)[1].lower() in NOT_SCANNED:
                continue
            label = os.path.join(label_root, name) if relative == "." else os.path.join(label_root, relative, name)
            add(os.path.join(folder, name), os.path.normpath(label), False)
