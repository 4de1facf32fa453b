"""A batch worker function that dies on purpose (a decoder crash on a hostile file).

`prepare_or_crash` prepares like mcv.core.batch.prep.prepare_file, except that
a file whose name starts with "crash" kills its worker process at once, as a
segfault in a native decoder would. Module-level, so spawned workers import it.
"""

from __future__ import annotations

import os

from mcv.core.batch.prep import prepare_file


def prepare_or_crash(path, label, named, settings):
    if os.path.basename(path).startswith("crash"):
        os._exit(70)
    return prepare_file(path, label, named, settings)


def large_result(path, label, named, settings):
    """A result of 200 MB: the worker is still writing it to the pipe when the pool is closed
    (a marker file next to `path` says the write is about to start)."""
    with open(path + ".sending", "w"):
        pass
    return b"\0" * (200 << 20)
