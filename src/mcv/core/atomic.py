"""Replacing a file so that a crash or a full disk never leaves half of it.

The new content is written to a temporary file beside the target (same
filesystem, so the rename is atomic) and renamed over it; on failure the
temporary file is removed and the old content stays as it was.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable


def replace_atomically(path: Path, fill: Callable[[Path], object]) -> None:
    """`fill(tmp)` creates the new file at `tmp`; it then replaces `path`. OSError propagates."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        tmp.unlink(missing_ok=True)
        fill(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: Path, data: bytes | str) -> None:
    """Replace `path` with `data` (text is written as UTF-8)."""
    content = data.encode("utf-8") if isinstance(data, str) else data
    replace_atomically(path, lambda tmp: tmp.write_bytes(content))
