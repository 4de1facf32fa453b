"""VS Code: the mcv extension (plain JavaScript, no build step) in ~/.vscode/extensions.

The extension's folder is written whole (launcher.json in it records the
absolute mcv to run). VS Code 1.74 and later list user extensions in
extensions.json beside them: when that file exists, mcv's entry is merged
into it (the other entries kept as they are) so VS Code loads the folder on
its next start; when it does not, VS Code finds the folder when it scans.
"""

from __future__ import annotations

import json
from importlib.resources import files
from pathlib import Path

from mcv.plugins.install.changes import MergeFile, WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.editor_files import editor_changes
from mcv.plugins.install.json_merge import (
    MergeJson,
    append_array_item,
    remove_array_items,
)

NAME = "vscode"
DESCRIPTION = "VS Code: Describe image / Extract text / Ask… on images, alt text in Markdown (an extension)"
AFTER = "restart VS Code (or run `Developer: Reload Window`) to load the extension"
BY_DEFAULT = False  # only when named


def _manifest() -> dict:
    return json.loads((files("mcv.plugins") / "editors" / "vscode" / "package.json").read_text(encoding="utf-8"))


def extension_id() -> str:
    manifest = _manifest()
    return f"{manifest['publisher']}.{manifest['name']}"


def extensions_dir(context: Context) -> Path:
    return Path(context.environ.get("VSCODE_EXTENSIONS") or context.home / ".vscode" / "extensions")


def folder(context: Context) -> Path:
    return extensions_dir(context) / f"{extension_id()}-{_manifest()['version']}"


def detect(context: Context) -> str | None:
    if context.which("code") or extensions_dir(context).is_dir():
        return None
    return "code is not on PATH and ~/.vscode/extensions does not exist"


def _is_ours(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("identifier"), dict) and entry["identifier"].get("id") == extension_id()


def plan(context: Context) -> list[WriteFile | MergeFile]:
    target = folder(context)
    changes: list[WriteFile | MergeFile] = [
        *editor_changes("vscode", target),
        WriteFile(target / "launcher.json", (json.dumps(list(context.launcher)) + "\n").encode("utf-8")),
    ]
    listing = extensions_dir(context) / "extensions.json"
    if listing.is_file():
        entry = {
            "identifier": {"id": extension_id()},
            "version": _manifest()["version"],
            "location": {"$mid": 1, "fsPath": str(target), "path": target.as_posix(), "scheme": "file"},
            "relativeLocation": target.name,
        }

        def merge(data: bytes) -> bytes:
            text = data.decode("utf-8")
            merged = append_array_item(text, entry, _is_ours, str(listing))
            # already listed exactly so: leave every byte
            return data if _listed(text, entry) else merged.encode("utf-8")

        changes.append(MergeJson(listing, merge=merge, unmerge=f"{__name__}:unmerge", base=b"[]"))
    return changes


def _listed(text: str, entry: dict) -> bool:
    from mcv.plugins.install.json_merge import _array_items

    _, _, items = _array_items(text, "extensions.json")
    return [value for _, _, value in items if _is_ours(value)] == [entry]


def unmerge(data: bytes) -> bytes:
    return remove_array_items(data.decode("utf-8"), _is_ours, "VS Code's extensions.json").encode("utf-8")
