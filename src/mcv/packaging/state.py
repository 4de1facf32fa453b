"""Where mcv keeps small state of its own (digest cache, created-model records).

`MCV_STATE_DIR` overrides the platform's user state directory (tests use it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping


def state_dir(environ: Mapping[str, str]) -> Path:
    override = environ.get("MCV_STATE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_state_dir

    return Path(user_state_dir("mcv", appauthor=False))
