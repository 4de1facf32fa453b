"""Which files an MCP tool may read, and reading them once.

An assistant decides the paths, so each one is checked before a byte is read:

- no URL of any scheme (nothing is fetched), no `..` component;
- a relative path is taken from the first root (the working folder);
- the real path (every symlink resolved) must lie inside an allowed root:
  the working folder, `--allow` folders and the `mcp.allow` config key; a
  symlink inside a root that points out of it is refused;
- the file is opened from its root folder down, one component at a time,
  following no symlink (a folder swapped for a symlink after the check is
  refused, not followed); where the system tells, the opened file's own path
  must still be inside a root (it was not moved out meanwhile). It must be a
  regular file, at most `max_bytes` long, with the magic bytes of a raster
  image format mcv decodes.

The bytes read here are what the model sees (an ImageSource of kind
"bytes"): the core never opens the path itself.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from mcv.core.images.sniff import SNIFF_BYTES, sniff
from mcv.core.images.types import ImageSource
from mcv.core.units import format_bytes
from mcv.errors import InputError

MAX_BYTES = 50_000_000  # an image an assistant hands over; the core's own cap is larger
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:(//|[^\\/])")  # http://, file://, data:, ... (not C:\ or C:/)
_ALLOWED_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "TIFF", "BMP", "HEIF", "AVIF"}  # no PDF: these are image tools


@dataclass(frozen=True)
class Sandbox:
    roots: tuple[Path, ...]  # real paths; the first is where relative paths start
    max_bytes: int = MAX_BYTES

    @classmethod
    def from_folders(cls, cwd: str, allowed: Iterable[str], max_bytes: int = MAX_BYTES) -> "Sandbox":
        roots: list[Path] = []
        for folder, explicit in [(cwd, False), *((folder, True) for folder in allowed)]:
            real = Path(os.path.realpath(os.path.expanduser(folder)))
            if not real.is_dir():
                raise InputError(f"allowed folder {folder}: not a folder")
            if real.parent == real and not explicit:
                continue  # a working folder of / would allow every file: only ever as an explicit --allow
            if real not in roots:
                roots.append(real)
        return cls(tuple(roots), max_bytes)

    def describe(self) -> str:
        return ", ".join(str(root) for root in self.roots) or "(none)"

    def resolve(self, given: str) -> Path:
        """The real path of `given` inside a root; InputError (one line) otherwise."""
        if not isinstance(given, str) or not given.strip():
            raise InputError("path is empty: give the path of an image file")
        if "\x00" in given:
            raise InputError("path contains a NUL byte")
        if _URL.match(given):
            raise InputError(f"{given}: URLs are not fetched; give the path of a local image file")
        parts = re.split(r"[\\/]", given)
        if ".." in parts:
            raise InputError(f"{given}: paths with '..' are refused; give the path inside an allowed folder")
        if not self.roots:
            raise InputError(
                "no folder is allowed (the server's working folder is the filesystem root)",
                hint="start `mcv mcp --allow FOLDER`, or set it once: mcv config set mcp.allow FOLDER",
            )
        path = Path(os.path.expanduser(given))
        if not path.is_absolute():
            path = self.roots[0] / path
        real = Path(os.path.realpath(path))
        if not self._contains(real):
            via = " (through a symlink)" if _inside_lexically(path, self.roots) else ""
            raise InputError(
                f"{given}: outside the allowed folders{via}",
                hint=f"allowed: {self.describe()}; add one with `mcv mcp --allow FOLDER` or the mcp.allow config key",
            )
        return real

    def read(self, given: str) -> ImageSource:
        """The image at `given`, read whole after every check (module docstring)."""
        real = self.resolve(given)
        label = os.path.basename(given.rstrip("/\\")) or given
        try:
            fd = self._open(real)
        except FileNotFoundError:
            raise InputError(f"{given}: no such file") from None
        except PermissionError:
            raise InputError(f"{given}: permission denied") from None
        except OSError as err:
            if err.errno in (errno.ELOOP, errno.EMLINK):  # a symlink where the check saw none
                raise InputError(f"{given}: the path changed while it was being opened; try again") from None
            raise InputError(f"{given}: cannot open ({err.strerror or err})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):  # a folder, a FIFO, a device: nothing to read
            os.close(fd)
            raise InputError(f"{given}: not a regular file")
        with os.fdopen(fd, "rb") as file:
            opened = _fd_path(fd)
            if opened is not None and not self._contains(Path(opened)):
                raise InputError(f"{given}: the file moved out of the allowed folders while it was being opened")
            if info.st_size > self.max_bytes:
                raise InputError(
                    f"{given}: {format_bytes(info.st_size)}, over the {format_bytes(self.max_bytes)} limit for an image"
                )
            head = file.read(SNIFF_BYTES)
            kind = sniff(head)
            if kind not in _ALLOWED_FORMATS:
                raise InputError(f"{given}: not an image (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC or AVIF by its first bytes)")
            rest = file.read(self.max_bytes + 1 - len(head))
        data = head + rest
        if len(data) > self.max_bytes:
            raise InputError(f"{given}: over the {format_bytes(self.max_bytes)} limit for an image")
        return ImageSource("bytes", data, label)

    def _contains(self, real: Path) -> bool:
        return any(real == root or root in real.parents for root in self.roots)

    def _open(self, real: Path) -> int:
        """A descriptor of `real`, opened from its root down without following any symlink: what is
        opened is what `resolve` checked, even if a folder on the way is swapped meanwhile."""
        if os.open not in os.supports_dir_fd:  # Windows: no openat; the last component unfollowed, checked after
            fd = os.open(real, _FILE_FLAGS)
            try:
                checked = os.stat(real)
            except OSError:
                checked = None
            if checked is None or not os.path.samestat(checked, os.fstat(fd)):
                os.close(fd)
                raise OSError(errno.ELOOP, "changed while being opened")
            return fd
        root = next(root for root in self.roots if real == root or root in real.parents)
        parts = real.relative_to(root).parts
        fd = os.open(root, _DIR_FLAGS)
        try:
            for part in parts[:-1]:
                try:
                    inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except NotADirectoryError:  # O_DIRECTORY met a symlink (swapped in) or a file
                    if stat.S_ISLNK(os.lstat(part, dir_fd=fd).st_mode):
                        raise OSError(errno.ELOOP, "a symlink on the way") from None
                    raise
                os.close(fd)
                fd = inner
            return os.open(parts[-1], _FILE_FLAGS, dir_fd=fd) if parts else os.dup(fd)
        finally:
            os.close(fd)


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW
# O_NONBLOCK: a FIFO opens at once (and is refused) instead of waiting for a writer
_FILE_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def _fd_path(fd: int) -> str | None:
    """Where an open file is now, when the system says (Linux /proc, macOS F_GETPATH); else None."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        pass
    try:
        import fcntl

        getpath = getattr(fcntl, "F_GETPATH", None)
        if getpath is not None:
            return os.fsdecode(fcntl.fcntl(fd, getpath, bytes(1024)).split(b"\0", 1)[0])
    except (ImportError, OSError):
        pass
    return None


def _inside_lexically(path: Path, roots: tuple[Path, ...]) -> bool:
    absolute = Path(os.path.abspath(path))
    return any(absolute == root or root in absolute.parents for root in roots)


def allowed_from_config(value: str | None) -> list[str]:
    """The `mcp.allow` config value: folders separated like PATH (os.pathsep)."""
    return [part for part in (value or "").split(os.pathsep) if part.strip()]
