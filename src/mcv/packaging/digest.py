"""sha256 of big files in constant memory, two files at once, with a cache.

Hashing reads fixed chunks into one reused buffer, so memory stays flat
whatever the file size. hashlib releases the GIL on updates of more than a
couple of KiB, so hashing two files in two threads uses two cores.

`DigestCache` remembers digests keyed by the file's (device, inode) and
checked against its size and mtime_ns, the stat facts git's index trusts too:
a re-create of unchanged files then skips the multi-gigabyte read entirely,
also through a hard link (a bundle) or a symlink (the HF cache).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from concurrent.futures import Future, as_completed
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from mcv.core.atomic import write_atomically
from mcv.errors import InputError

CHUNK_SIZE = 1 << 20  # 1 MiB: large enough for full hashing speed, small for memory

# progress(path, bytes_done_delta) — called from the hashing thread.
HashProgress = Callable[[Path, int], None]


class HashCancelled(Exception):
    """Hashing stopped early because the caller gave up (error or Ctrl-C elsewhere)."""


def sha256_file(
    path: Path,
    *,
    progress: HashProgress | None = None,
    chunk_size: int = CHUNK_SIZE,
    cancel: threading.Event | None = None,
) -> str:
    """`sha256:<hex>` of the file, read in fixed chunks (constant memory)."""
    digest = hashlib.sha256()
    buffer = bytearray(chunk_size)
    view = memoryview(buffer)
    try:
        with open(path, "rb", buffering=0) as stream:
            while True:
                count = stream.readinto(buffer)
                if not count:
                    break
                if cancel is not None and cancel.is_set():
                    raise HashCancelled(str(path))
                digest.update(view[:count])
                if progress is not None:
                    progress(path, count)
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    return "sha256:" + digest.hexdigest()


class HashJobs:
    """Files being hashed, one thread each; the caller takes digests as they finish.

    The caller can act on a small file's digest (e.g. upload it) while the
    big one is still hashing. Use as a context manager: leaving it early
    (an error, Ctrl-C) stops the other threads at their next chunk.
    """

    def __init__(
        self, paths: Iterable[Path], *, progress: HashProgress | None = None, cache: "DigestCache | None" = None
    ) -> None:
        unique = list(dict.fromkeys(Path(p) for p in paths))
        self.cancel = threading.Event()
        self.futures: dict[Path, Future] = {path: Future() for path in unique}
        # One thread per file (not a pool, which may reuse one thread for both).
        self._threads = [
            threading.Thread(
                target=self._run, args=(path, progress, cache), name=f"mcv-hash-{index}", daemon=True
            )
            for index, path in enumerate(unique)
        ]
        for thread in self._threads:
            thread.start()

    def _run(self, path: Path, progress: HashProgress | None, cache: "DigestCache | None") -> None:
        future = self.futures[path]
        future.set_running_or_notify_cancel()
        try:
            future.set_result(_digest_of(path, progress, cache, self.cancel))
        except BaseException as err:  # handed to the caller through the future
            future.set_exception(err)

    def as_completed(self) -> Iterator[tuple[Path, str]]:
        """(path, digest) in the order the hashes finish; errors re-raised here."""
        by_future = {future: path for path, future in self.futures.items()}
        for future in as_completed(by_future):
            yield by_future[future], future.result()

    def __enter__(self) -> "HashJobs":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel.set()
        for thread in self._threads:
            thread.join()


def hash_files(
    paths: Iterable[Path], *, progress: HashProgress | None = None, cache: "DigestCache | None" = None
) -> dict[Path, str]:
    """Digests of all files, hashed concurrently."""
    with HashJobs(paths, progress=progress, cache=cache) as jobs:
        return {path: future.result() for path, future in jobs.futures.items()}


def _digest_of(
    path: Path, progress: HashProgress | None, cache: "DigestCache | None", cancel: threading.Event
) -> str:
    if cache is not None:
        known = cache.lookup(path)
        if known is not None:
            if progress is not None:
                progress(path, file_size(path))
            return known
    value = sha256_file(path, progress=progress, cancel=cancel)
    if cache is not None:
        cache.store(path, value)
    return value


def file_size(path: Path) -> int:
    """Bytes in `path`; 0 when it cannot be read (the read that follows says why)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _stat_key(path: Path) -> tuple[str | None, str]:
    """(identity, stat facts): the file itself (hard links and symlinks share it), and its version."""
    try:
        info = os.stat(path)
    except OSError:
        return None, ""
    return f"{info.st_dev}:{info.st_ino}", f"{info.st_size}:{info.st_mtime_ns}"


class DigestCache:
    """Digests of files seen before, in a small JSON file; safe across threads.

    An entry is used only while the file's device, inode, size and
    modification time are unchanged. A broken or unwritable cache file is
    ignored: the cache only ever saves time, never decides correctness alone.
    """

    MAX_ENTRIES = 256

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, str]] = self._load()

    @classmethod
    def for_environment(cls, environ: Mapping[str, str]) -> "DigestCache":
        from mcv.packaging.state import state_dir

        return cls(state_dir(environ) / "digests.json")

    def _load(self) -> dict[str, dict[str, str]]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def lookup(self, path: Path) -> str | None:
        identity, stat = _stat_key(path)
        if identity is None:
            return None
        with self._lock:
            entry = self._entries.get(identity)
        if not isinstance(entry, dict) or entry.get("stat") != stat:
            return None
        value = entry.get("digest")
        return value if isinstance(value, str) and value.startswith("sha256:") else None

    def store(self, path: Path, value: str) -> None:
        identity, stat = _stat_key(path)
        if identity is None:
            return
        with self._lock:
            self._entries.pop(identity, None)  # re-insert: newest last, oldest evicted first
            self._entries[identity] = {"stat": stat, "digest": value}
            while len(self._entries) > self.MAX_ENTRIES:
                self._entries.pop(next(iter(self._entries)))
            self._save()

    def _save(self) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(self._entries, indent=0))
        except OSError:
            pass  # a cache that cannot be written only costs time
