"""Replacing a file so that a crash or a full disk never leaves half of it.

The new content is written to a temporary file beside the target (same
filesystem, so the rename is atomic) and renamed over it; on failure the
temporary file is removed and the old content stays as it was. The
temporary name is short and fixed-length (a hash of the target's name), so
a target whose name is near the filesystem's 255-byte limit still works.

`keep=True` is for files that belong to the user (sidecars beside their
photos): an existing file keeps its permission bits (and its group, where
the user may set it), and a symbolic link is refused (OSError ELOOP), never
followed: a link planted beside a photo must not get mcv to replace the file
it points to, nor be replaced itself.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import threading
from pathlib import Path
from typing import Callable


def replace_atomically(path: Path, fill: Callable[[Path], object], *, keep: bool = False) -> None:
    """`fill(tmp)` creates the new file at `tmp`; it then replaces `path`. OSError propagates."""
    path = Path(path)
    before = None
    if keep:
        try:
            before = os.lstat(path)
        except FileNotFoundError:
            before = None
        if before is not None and stat.S_ISLNK(before.st_mode):
            raise OSError(errno.ELOOP, "is a symbolic link (left as it is)", str(path))
    tmp = path.with_name(_temporary_name(path.name))
    try:
        tmp.unlink(missing_ok=True)
        fill(tmp)
        if before is not None:
            _take_over(tmp, before)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str, *, keep: bool = False) -> None:
    """Replace `path` with `data` (text is written as UTF-8)."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    replace_atomically(path, lambda tmp: tmp.write_bytes(content), keep=keep)


def _temporary_name(name: str) -> str:
    digest = hashlib.sha256(os.fsencode(name)).hexdigest()[:12]
    return f".mcv-{digest}-{os.getpid()}-{threading.get_native_id()}.tmp"


def _take_over(tmp: Path, before: os.stat_result) -> None:
    """The new file gets the old one's permission bits and, when allowed, its group."""
    os.chmod(tmp, stat.S_IMODE(before.st_mode))
    if hasattr(os, "chown") and before.st_gid != os.stat(tmp).st_gid:
        try:
            os.chown(tmp, -1, before.st_gid)
        except OSError:
            pass  # not a group of ours: the file gets the user's own group
