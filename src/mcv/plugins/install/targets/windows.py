"""Windows Explorer: a MiniCPM-V submenu of verbs for every image (PerceivedType `image`).

Per user, under HKEY_CURRENT_USER\\Software\\Classes\\SystemFileAssociations\\image\\shell:
the documented place for extra verbs, kept when the default app changes.
Each command is `"C:\\...\\mcv.exe" describe --gather -- "%1"`: the program and the
path quoted, no `cmd /c` (`& ^ % !` are legal in file names). Explorer
starts a legacy verb once per selected file (MultiSelectModel Player: up to
100); `--gather` (mcv/plugins/desktop/gather.py) makes those launches one
job. Applied with winreg on Windows; elsewhere written as .reg files to
import there (one adds, one removes). Windows 11 lists these under "Show
more options".
"""

from __future__ import annotations

import sys

from mcv.plugins.actions import ACTIONS, MENU_LABEL
from mcv.plugins.install.changes import RegistryKeys, WriteFile
from mcv.plugins.install.context import Context

NAME = "windows"
DESCRIPTION = "Windows Explorer: a MiniCPM-V submenu for images (registry, or .reg files elsewhere)"
AFTER = None
TOP = r"Software\Classes\SystemFileAssociations\image\shell\mcv"


def detect(context: Context) -> str | None:
    return None if context.platform == "win32" else "not Windows (install it by name to export .reg files)"


def command_line(context: Context, command: str) -> str:
    words = [f'"{word}"' if index == 0 or " " in word else word for index, word in enumerate(context.launcher)]
    return " ".join([*words, command, "--gather", "--", '"%1"'])  # one launch per file: --gather makes them one job


def registry_keys(context: Context) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    keys: list[tuple[str, tuple[tuple[str, str], ...]]] = [
        (TOP, (("MUIVerb", MENU_LABEL), ("SubCommands", ""), ("MultiSelectModel", "Player")))
    ]
    for index, action in enumerate(ACTIONS, 1):
        verb = rf"{TOP}\shell\{index}-{action.command}"  # Explorer sorts verbs by key name
        keys.append((verb, (("MUIVerb", action.label), ("MultiSelectModel", "Player"))))
        keys.append((rf"{verb}\command", (("", command_line(context, action.command)),)))
    return tuple(keys)


def reg_text(keys, *, remove: bool = False) -> bytes:
    """A .reg file (regedit's format: UTF-16 with a byte-order mark, CRLF)."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    if remove:
        lines += [f"[-HKEY_CURRENT_USER\\{TOP}]", ""]
    else:
        for subkey, values in keys:
            lines.append(f"[HKEY_CURRENT_USER\\{subkey}]")
            for name, data in values:
                lines.append(f"{'@' if name == '' else _reg_string(name)}={_reg_string(data)}")
            lines.append("")
    return "\ufeff".encode("utf-16-le") + "\r\n".join(lines).encode("utf-16-le") + b"\r\x00\n\x00"


def _reg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def plan(context: Context, winreg=None) -> list:
    keys = registry_keys(context)
    if context.platform == "win32" and sys.platform == "win32" or winreg is not None:
        return [RegistryKeys(TOP, keys, winreg=winreg)]
    folder = context.export_dir() / "windows"
    return [WriteFile(folder / "mcv-install.reg", reg_text(keys)), WriteFile(folder / "mcv-uninstall.reg", reg_text(keys, remove=True))]
