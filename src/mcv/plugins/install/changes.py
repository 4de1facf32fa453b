"""What an install does, change by change, and how each one is undone from its manifest record.

A target plans a list of changes; the engine applies them and keeps each
one's record (manifest.py), so `uninstall` undoes exactly what was done even
after the target's plan has changed:

- `WriteFile`: a file mcv owns whole (a service menu, a script). Undone by
  removing it, only while it is still the bytes mcv wrote, then the folders
  the install created, when they are empty.
- `MergeFile`: mcv's entries inside a file shared with other programs or the
  person (Thunar's uca.xml). `merge` adds them (replacing earlier ones);
  undone by the importable `unmerge` function named in the record, which
  removes only them; a file the install created is removed again when what
  is left is what it started from.
- `RegistryKeys`: Windows registry keys under HKEY_CURRENT_USER, set with
  winreg; undone by deleting the one key they live under.

A new kind of change is one class here with `kind`, `describe`, `state`,
`apply` and a `revert_<kind>` function in REVERTERS.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mcv.core.atomic import replace_atomically

INSTALLED, MISSING, DIFFERENT = "installed", "missing", "different"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def write_file(path: Path, data: bytes, mode: int) -> None:
    """Replace `path` atomically with `data` and `mode` (the mode is set before it appears)."""

    def fill(tmp: Path) -> None:
        tmp.write_bytes(data)
        os.chmod(tmp, mode)

    replace_atomically(path, fill)


def link_target(path: Path) -> Path:
    """Where a shared file really is: a dotfile manager's link is edited through, never replaced."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def make_parents(path: Path) -> list[str]:
    """Create `path`'s missing parent folders; the ones created, deepest first."""
    missing = []
    parent = path.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o755)
    return [str(folder) for folder in missing]


def remove_empty(folders: Sequence[str]) -> None:
    for folder in folders:  # deepest first
        try:
            os.rmdir(folder)
        except OSError:
            return  # not empty (someone else's files), or gone: leave it and its parents


@dataclass(frozen=True)
class WriteFile:
    path: Path
    data: bytes
    mode: int = 0o644
    kind = "file"

    def describe(self) -> str:
        return f"{self.path} (mode {self.mode:04o})"

    def state(self) -> str:
        current = read_bytes(self.path)
        if current is None:
            return MISSING
        same_mode = os.name == "nt" or (self.path.stat().st_mode & 0o777) == self.mode
        return INSTALLED if current == self.data and same_mode else DIFFERENT

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        created = make_parents(self.path)
        if self.state() != INSTALLED:
            write_file(self.path, self.data, self.mode)
        kept = list(previous.get("created_dirs", [])) if previous else []
        return {"kind": self.kind, "path": str(self.path), "sha256": sha256(self.data), "mode": self.mode,
                "created_dirs": created or kept}  # fmt: skip


@dataclass(frozen=True)
class MergeFile:
    path: Path
    merge: Callable[[bytes], bytes]  # the file's bytes with mcv's entries in (earlier ones replaced)
    unmerge: str  # "module:function": bytes -> the bytes without mcv's entries (kept in the record)
    base: bytes  # what the file starts as when it does not exist yet
    mode: int = 0o644
    kind = "merge"

    def describe(self) -> str:
        return f"{self.path} (mcv's entries merged in; the rest kept as it is)"

    def state(self) -> str:
        current = read_bytes(self.path)
        if current is None:
            return MISSING
        return INSTALLED if self.merge(current) == current else DIFFERENT

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        current = read_bytes(self.path)
        record = {"kind": self.kind, "path": str(self.path), "unmerge": self.unmerge, "created": False, "created_dirs": []}
        if previous and previous.get("path") == str(self.path):
            record.update({key: previous[key] for key in ("created", "base_sha256", "created_dirs") if key in previous})
        if current is None:
            record.update(created=True, base_sha256=sha256(self.base), created_dirs=make_parents(self.path))
            current = self.base
        merged = self.merge(current)
        if merged != read_bytes(self.path):
            target = link_target(self.path)
            mode = target.stat().st_mode & 0o777 if target.exists() else self.mode
            write_file(target, merged, mode)
        return record


@dataclass(frozen=True)
class RegistryKeys:
    """Keys and string values under HKEY_CURRENT_USER; `top` is the key all of them live under."""

    top: str
    keys: tuple[tuple[str, tuple[tuple[str, str], ...]], ...]  # (subkey, ((value name, data), ...)); "" = (Default)
    winreg: Any = field(default=None, compare=False)  # the winreg module (tests pass a stand-in)
    kind = "registry"

    def _api(self):
        if self.winreg is not None:
            return self.winreg
        import winreg

        return winreg

    def describe(self) -> str:
        return f"HKEY_CURRENT_USER\\{self.top} (and {len(self.keys) - 1} keys under it)"

    def state(self) -> str:
        api = self._api()
        try:
            for subkey, values in self.keys:
                with api.OpenKey(api.HKEY_CURRENT_USER, subkey) as key:
                    for name, data in values:
                        if api.QueryValueEx(key, name)[0] != data:
                            return DIFFERENT
        except FileNotFoundError:
            return MISSING
        return INSTALLED

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        api = self._api()
        for subkey, values in self.keys:
            with api.CreateKeyEx(api.HKEY_CURRENT_USER, subkey, 0, api.KEY_WRITE) as key:
                for name, data in values:
                    api.SetValueEx(key, name, 0, api.REG_SZ, data)
        return {"kind": self.kind, "top": self.top, "subkeys": [subkey for subkey, _ in self.keys]}


Change = WriteFile | MergeFile | RegistryKeys


# --- undoing, from a manifest record ---------------------------------------------------------


def revert_file(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
    """Undo a WriteFile; None when done, else why the file was left."""
    path = Path(record["path"])
    current = read_bytes(path)
    if current is not None:
        if sha256(current) != record["sha256"] and not force:
            return f"{path} was changed since mcv wrote it: left as it is (--force removes it)"
        path.unlink()
    remove_empty(record.get("created_dirs", []))
    return None


def revert_merge(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
    path = Path(record["path"])
    current = read_bytes(path)
    if current is None:
        remove_empty(record.get("created_dirs", []))
        return None
    module, _, name = record["unmerge"].partition(":")
    unmerged = getattr(importlib.import_module(module), name)(current)
    if record.get("created") and sha256(unmerged) == record.get("base_sha256"):
        path.unlink()  # mcv made this file and nothing else was added to it
        remove_empty(record.get("created_dirs", []))
    elif unmerged != current:
        target = link_target(path)
        write_file(target, unmerged, target.stat().st_mode & 0o777)
    return None


def revert_registry(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
    """Delete the key mcv's keys live under, with everything below it (its name is mcv's own:
    `...\\shell\\mcv`). winreg deletes only keys without subkeys, so children go first,
    including the intermediate ones CreateKeyEx made (`mcv\\shell`)."""
    if winreg is None:
        import winreg
    _delete_tree(winreg, record["top"])
    return None


def _delete_tree(winreg: Any, subkey: str) -> None:
    try:
        with winreg.OpenKey(winreg.HKEY_CURRENT_USER, subkey) as key:
            children = []
            while True:
                try:
                    children.append(winreg.EnumKey(key, len(children)))
                except OSError:  # no more subkeys
                    break
    except FileNotFoundError:
        return
    for child in children:
        _delete_tree(winreg, f"{subkey}\\{child}")
    winreg.DeleteKey(winreg.HKEY_CURRENT_USER, subkey)


REVERTERS: dict[str, Callable[..., str | None]] = {
    "file": revert_file,
    "merge": revert_merge,
    "registry": revert_registry,
}


def _revert_setting(kind: str) -> Callable[..., str | None]:
    """Kinds that live in settings_changes.py (gsettings, xfconf), imported when undone."""

    def revert(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
        from mcv.plugins.install import settings_changes

        return getattr(settings_changes, f"revert_{kind}")(record, force)

    return revert


REVERTERS.update({kind: _revert_setting(kind) for kind in ("gsettings", "xfconf")})


def record_paths(record: Mapping[str, Any]) -> list[str]:
    return [record["path"]] if "path" in record else [f"HKEY_CURRENT_USER\\{record['top']}"]


def same_place(change: Change, record: Mapping[str, Any]) -> bool:
    if isinstance(change, RegistryKeys):
        return record.get("top") == change.top
    return record.get("path") == str(change.path)
