"""The editor plugins' files (package data under mcv/plugins/editors/), as install changes.

    editor_changes("neovim", folder) -> [WriteFile(folder / "plugin/mcv.lua", ...), ...]

Every file of the plugin's package-data folder is written as it is (Python
caches and editor backups left out), so what is installed is what the
plugin's tests ran.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from mcv.plugins.install.changes import WriteFile

_SKIPPED_SUFFIXES = (".pyc", "~", ".elc")


def editor_changes(editor: str, folder: Path) -> list[WriteFile]:
    root = files("mcv.plugins") / "editors" / editor
    changes: list[WriteFile] = []

    def walk(node, parts: tuple[str, ...]) -> None:
        for child in sorted(node.iterdir(), key=lambda entry: entry.name):
            if child.name in ("__pycache__", "__init__.py") or child.name.endswith(_SKIPPED_SUFFIXES):
                continue
            if child.is_dir():
                walk(child, (*parts, child.name))
            else:
                changes.append(WriteFile(folder.joinpath(*parts, child.name), child.read_bytes()))

    walk(root, ())
    return changes
