"""Preparing a batch's files in worker processes, while the engines answer.

Each file is read once in a worker: hashed (its content hash is what
`--resume` matches on), recognised by its magic bytes, and prepared through
the one image pipeline (core/images) into the PreparedImage(s) a request
carries: one for an image, one per page for a PDF. Decoding and resizing
are CPU work that threads would share with the engine's HTTP traffic, so
they run in a process pool; a worker that crashes (a decoder bug on a
hostile file) takes down only the files in flight, which are then tried
again one at a time (engine.py) so that the culprit is found and the
others still get answered.

Workers are started with `spawn` (no threads or locks of the parent copied
into them) and leave when the parent dies, even by SIGKILL. They are
spawned with SIGINT blocked and ignore it once they run: Ctrl-C reaches the
whole process group, and it is the parent that stops the batch (a worker
still starting up must not die printing a KeyboardInterrupt traceback).
"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import stat
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator

from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings
from mcv.errors import InputError

Key = tuple[str, "int | None"]  # (sha256 of the file, PDF page number or None)
_done: frozenset = frozenset()  # in a worker: the keys already answered (resume)


@dataclass
class Prepared:
    """What a worker made of one file (picklable)."""

    sha256: str | None = None
    pages: list[tuple[int | None, PreparedImage]] = field(default_factory=list)  # (PDF page or None, image)
    error: str | None = None
    skipped: bool = False  # another kind of file, found by walking a folder (not named): a skip, not a failure
    already: list[int | None] = field(default_factory=list)  # pages (None: the image) answered before (resume)
    cpu_seconds: float = 0.0


def prepare_file(path: str, label: str, named: bool, settings: PrepareSettings) -> Prepared:
    """Read, hash, recognise and prepare one file (runs in a worker process)."""
    from mcv.core.images.prepare import prepare
    from mcv.core.images.sniff import describe_non_image, sniff
    from mcv.core.images.sources import read_path

    started = time.process_time()
    result = Prepared()
    try:
        not_a_file = _not_a_file(path)
        if not_a_file is not None:
            result.error = f"{label}: {not_a_file}"
            result.skipped = not named  # found by walking: passed over, like other non-images
            return result
        data = read_path(path, label, settings.max_input_bytes)
        result.sha256 = hashlib.sha256(data).hexdigest()
        fmt = sniff(data)
        if fmt is None:
            result.error = f"{label}: {describe_non_image(data)}"
            result.skipped = not named and bool(data)  # another kind of file; an empty one is a broken image
        elif fmt != "PDF" and (result.sha256, None) in _done:
            result.already.append(None)
        else:
            images = prepare(ImageSource("bytes", data, label), settings)
            for image in images:
                page = _page_number(image.label) if fmt == "PDF" else None
                if (result.sha256, page) in _done:
                    result.already.append(page)
                else:
                    result.pages.append((page, image))
    except InputError as err:
        result.error = err.message
    except MemoryError:
        result.error = f"{label}: out of memory while preparing it"
    finally:
        result.cpu_seconds = time.process_time() - started
    return result


def _not_a_file(path: str) -> str | None:
    """Why `path` is no file to read (a broken link, a FIFO...), or None (read_path says the rest)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a broken symbolic link (its target is gone)" if os.path.islink(path) else None
    except OSError as err:
        return "a symbolic link loop" if err.errno == errno.ELOOP else None  # EACCES: read_path says so
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):  # only a link to one gets here (inputs.py)
        return "a symbolic link to a folder, not followed (name the folder itself to include it)"
    kinds = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"),
             (stat.S_ISBLK, "a device"))  # fmt: skip
    return next((what for test, what in kinds if test(mode)), "not a regular file") + ", not a file to read"


def _page_number(label: str) -> int:
    """The page of a PDF page's label ("scan.pdf#page=3"), as core/images/pdf.py writes it."""
    return int(label.rpartition("#page=")[2])


@contextmanager
def sigint_blocked() -> Iterator[None]:
    """SIGINT held back in this thread, and in the processes it spawns (module docstring)."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no process groups to share a Ctrl-C with
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _start_worker(done: frozenset, parent: int) -> None:
    global _done
    _done = done
    # Ctrl-C reaches the whole process group: the parent stops the batch and ends
    # the workers; they must not each print a KeyboardInterrupt traceback. The
    # worker was spawned with SIGINT blocked (sigint_blocked): ignoring it drops
    # one that came while it started up; then it may be unblocked.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})

    def watch() -> None:  # a parent killed with SIGKILL cannot tell its workers
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True, name="mcv-parent-watch").start()


class PrepPool:
    """A pool of `workers` processes preparing files with `settings`; `done`: keys to skip.

    `function(path, label, named, settings) -> Prepared` is what a worker runs
    (prepare_file; a test passes one that crashes on purpose). Every future
    carries the pool's `generation`: a crash breaks every future of that
    generation, and the pool is started again once.
    """

    def __init__(self, workers: int, settings: PrepareSettings, done: frozenset, *, function=prepare_file) -> None:
        self.workers = max(1, workers)
        self.settings = settings
        self.function = function
        self.generation = 0
        self._done = done
        self._lock = threading.Lock()
        self._executor = self._new()

    def _new(self) -> ProcessPoolExecutor:
        import multiprocessing

        return ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self._done, os.getpid()),
        )

    def submit(self, path: str, label: str, named: bool) -> Future:
        # The executor spawns its processes (and its manager thread) here, in the caller's thread.
        with self._lock, sigint_blocked():
            generation = self.generation
            try:
                future = self._executor.submit(self.function, path, label, named, self.settings)
            except BrokenProcessPool as err:  # broken before this file got in: it is a suspect too
                future = Future()
                future.set_exception(err)
        future.generation = generation  # type: ignore[attr-defined]
        return future

    def restart_after(self, future: Future) -> None:
        """`future` failed with a broken pool: start a fresh pool, once per breakage."""
        with self._lock:
            if getattr(future, "generation", None) != self.generation:
                return  # already restarted for this breakage
            self._stop(self._executor)
            self.generation += 1
            self._executor = self._new()

    def close(self) -> None:
        with self._lock:
            self._stop(self._executor)

    @staticmethod
    def _stop(executor: ProcessPoolExecutor, wait: float = 5.0, polite: float = 2.0) -> None:
        """End the workers, then wait for them and for the executor's thread (one still closing
        its pipes when the interpreter exits makes it print `Exception ignored in:
        threading._shutdown ... EBADF`).

        Workers first finish the file in hand: one killed while it writes its result leaves the
        executor's thread reading half a message forever, and the interpreter's exit joining that
        thread hangs. Only a worker still busy after `polite` seconds (a long decode, not a
        write: the executor's thread reads results as they come) is ended at once."""
        processes = list((getattr(executor, "_processes", None) or {}).values())
        manager = getattr(executor, "_executor_manager_thread", None)
        executor.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + polite
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        for process in processes:
            if process.is_alive():
                process.terminate()
        deadline = time.monotonic() + wait
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
        if manager is not None:
            manager.join(wait)
