"""What `mcv plugins install` did, per target, in mcv's state folder: the records uninstall undoes.

    {"format": 1, "targets": {"thunar": {"launcher": ["/usr/bin/mcv"], "changes": [record, ...]}}}

Written atomically after each target, so an install stopped half-way still
knows what it wrote.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from mcv.core.atomic import write_atomically
from mcv.errors import InputError

FORMAT = 1


def manifest_path(environ: Mapping[str, str]) -> Path:
    from mcv.packaging.state import state_dir

    return state_dir(environ) / "plugins-installed.json"


class Manifest:
    def __init__(self, path: Path, targets: dict[str, dict[str, Any]]) -> None:
        self.path = path
        self.targets = targets

    @classmethod
    def load(cls, environ: Mapping[str, str]) -> "Manifest":
        path = manifest_path(environ)
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path, {})
        except (OSError, ValueError) as err:
            raise InputError(f"cannot read {path}: {err}", hint="move it away to start afresh (mcv then forgets what it installed)") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("targets"), dict):
            raise InputError(f"{path} is not a manifest this mcv understands", hint="move it away to start afresh")
        return cls(path, document["targets"])

    def records(self, target: str) -> list[dict[str, Any]]:
        return list(self.targets.get(target, {}).get("changes", []))

    def set(self, target: str, launcher: tuple[str, ...], records: list[dict[str, Any]]) -> None:
        if records:
            self.targets[target] = {"launcher": list(launcher), "changes": records}
        else:
            self.targets.pop(target, None)
        self.save()

    def save(self) -> None:
        if not self.targets:  # nothing installed: nothing to remember
            self.path.unlink(missing_ok=True)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # ensure_ascii keeps a non-UTF-8 path's surrogate escapes as \udcXX: valid JSON, read back exactly.
        write_atomically(self.path, json.dumps({"format": FORMAT, "targets": self.targets}, indent=2) + "\n")
