"""Registering `mcv mcp` with an assistant app: one entry merged into the app's JSON settings.

Each host target (targets/claude_desktop.py, vscode_mcp.py, zed.py, cursor.py)
says where its file is and what its entry looks like; this module builds the
MergeJson change (json_merge.py: the rest of the file kept byte for byte, a
backup of it kept, only mcv's entry removed on uninstall).

The entry runs this mcv by its absolute path (apps start servers with a
short PATH). OLLAMA_HOST and MCV_CONFIG are passed on when they are set
where the install runs, since an app starts the server with few variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcv.errors import InputError
from mcv.plugins.install.changes import read_bytes
from mcv.plugins.install.context import Context
from mcv.plugins.install.json_merge import MergeJson, get_member, json_merge_functions

ENTRY_NAME = "mcv"
PASSED_VARIABLES = ("OLLAMA_HOST", "MCV_CONFIG")
EMPTY = b"{}\n"


# Apps start the server in a folder of their choosing (Claude Desktop: `/`, which is never a root).
ALLOW_NOTE = "the server reads images only from the folders in the mcp.allow config key (`mcv config set mcp.allow ~/Pictures`)"


def server_command(context: Context) -> tuple[str, list[str]]:
    return context.launcher[0], [*context.launcher[1:], "mcp"]


def server_env(context: Context) -> dict[str, str]:
    return {name: context.environ[name] for name in PASSED_VARIABLES if context.environ.get(name)}


def app_config_dir(context: Context, name: str) -> Path:
    """Where an Electron app keeps its settings: ~/Library/Application Support, %APPDATA%, XDG config."""
    if context.platform == "darwin":
        return context.home / "Library" / "Application Support" / name
    if context.platform == "win32":
        return Path(context.environ.get("APPDATA") or context.home / "AppData" / "Roaming") / name
    return context.config_home / name


def merge_change(path: Path, keys: tuple[str, ...], entry: dict[str, Any], module: str) -> MergeJson:
    """The change for `module`'s file; its `unmerge` keeps the parent object when it is there already."""
    merge, _ = json_merge_functions(keys, entry, str(path))
    unmerge = f"{module}:unmerge_keep_parent" if _parent_exists(path, keys) else f"{module}:unmerge"
    return MergeJson(path, merge=merge, unmerge=unmerge, base=EMPTY)


def _parent_exists(path: Path, keys: tuple[str, ...]) -> bool:
    data = read_bytes(path)
    if data is None:
        return False
    try:
        return get_member(data.decode("utf-8"), keys[:-1], str(path)) is not None
    except (InputError, UnicodeDecodeError):
        return False  # the install reports the broken file


def unmerge_at(keys: tuple[str, ...], data: bytes, *, keep_parent: bool = False) -> bytes:
    _, unmerge = json_merge_functions(keys, None, "the settings file", keep_parents=keep_parent)
    return unmerge(data)


def found(path: Path, *programs: str, context: Context) -> str | None:
    """None when the app seems to be here (its settings folder, or one of its programs on PATH)."""
    if path.parent.is_dir() or any(context.which(program) for program in programs):
        return None
    return f"{path.parent} does not exist" + (f" and {' / '.join(programs)} is not on PATH" if programs else "")
