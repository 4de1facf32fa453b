"""A global shortcut that runs `mcv snap` (`mcv plugins install shortcut [--key KEYS]`),
registered the way this desktop keeps its own:

- GNOME: a custom keybinding in gsettings (settings_changes.py), added to the list
  with every other binding kept; it works at once.
- KDE: an application entry ~/.local/share/applications/mcv-snap.desktop with
  X-KDE-Shortcuts, which kglobalaccel reads when it starts (log out and in, or set
  it in System Settings > Shortcuts, where the entry is listed).
- Xfce: /commands/custom/<key> in the xfce4-keyboard-shortcuts channel (xfconf-query);
  it works at once.
- sway and Hyprland: mcv writes its own file (~/.config/sway/mcv-snap.conf,
  ~/.config/hypr/mcv-snap.conf) holding the bindsym / bind line, and prints the one
  `include` / `source` line to add to your config: mcv never edits your config.
- macOS: a Quick Action "Snap (MiniCPM-V)" in ~/Library/Services, and the steps to
  give it the key in System Settings (macOS keeps service shortcuts to itself).
- Windows: a Start-menu shortcut "Snap (MiniCPM-V).lnk" with a hotkey (lnk.py). Windows
  hotkeys take Ctrl, Alt and Shift only, so the default there is Ctrl+Alt+T.

Not installed by a plain `mcv plugins install` (that one is for file managers): a global
key is taken only when asked for by name. The key is remembered: a reinstall without
--key keeps it.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from mcv.plugins.install.changes import WriteFile
from mcv.plugins.install.context import Context
from mcv.plugins.install.entries import exec_quote, keyfile, shell_words
from mcv.plugins.install.shortcut_keys import DEFAULT_KEY, Key
from mcv.plugins.install.settings_changes import GSettingsKeybinding, XfconfShortcut

NAME = "shortcut"
DESCRIPTION = "a global shortcut for `mcv snap` (GNOME, KDE, Xfce, sway, Hyprland, macOS, Windows); --key, default <Super><Shift>T"
AFTER = None  # per desktop: after()
BY_DEFAULT = False  # only when named
LABEL = "Snap (MiniCPM-V)"
SLOT = "mcv-snap"
WINDOWS_DEFAULT_KEY = "Ctrl+Alt+T"  # no Windows key in .lnk hotkeys
_KEY_MARK = "mcv-key: "  # a comment in the files mcv writes, so a reinstall keeps the key


def _desktop(context: Context):
    from mcv.plugins.snap.desktop import detect_desktop

    return detect_desktop(context.environ, context.platform)


def _family(context: Context) -> str | None:
    desktop = _desktop(context)
    if desktop.platform == "darwin":
        return "macos"
    if desktop.platform == "win32":
        return "windows"
    family = desktop.family
    return family if family in ("gnome", "kde", "xfce", "sway", "hyprland") else None


def detect(context: Context) -> str | None:
    if _family(context) is not None:
        return None
    desktop = _desktop(context)
    where = desktop.describe() if desktop.session is None else f"no shortcut installer for {desktop.describe()}"
    return f"{where}; bind `{shell_words(command_words(context))}` to a key yourself"


def command_words(context: Context) -> list[str]:
    return [*context.launcher, "snap"]


def chosen_key(context: Context) -> Key:
    """--key, else the key of the installed shortcut, else the default."""
    given = context.options.get("key") if context.options else None
    default = WINDOWS_DEFAULT_KEY if _family(context) == "windows" else DEFAULT_KEY
    return Key.parse(given or installed_key(context) or default)


def installed_key(context: Context) -> str | None:
    from mcv.plugins.install.manifest import Manifest

    for record in Manifest.load(context.environ).records(NAME):
        if record.get("key"):
            return record["key"]
        if str(record.get("path", "")).endswith(".lnk"):
            continue  # a binary file: its hotkey is not written back as text
        try:
            with open(record.get("path", ""), encoding="utf-8") as file:
                for line in file:
                    if _KEY_MARK in line:
                        return line.split(_KEY_MARK, 1)[1].strip()
        except (OSError, UnicodeDecodeError):
            continue
    return None


def plan(context: Context) -> list[Any]:
    family = _family(context)
    if family is None:
        return []
    key = chosen_key(context)
    words = command_words(context)
    if family == "gnome":
        return [GSettingsKeybinding(SLOT, LABEL, shell_words(words), key.gtk(), environ=context.environ)]
    if family == "xfce":
        return [XfconfShortcut(key.gtk(), shell_words(words), environ=context.environ)]
    if family == "kde":
        return [WriteFile(context.data_home / "applications" / f"{SLOT}.desktop", kde_entry(words, key))]
    if family == "sway":
        line = f"bindsym {key.sway()} exec {shell_words(words)}"  # sway runs exec lines with sh -c
        return [WriteFile(context.config_home / "sway" / f"{SLOT}.conf", _include_file(line, key))]
    if family == "hyprland":
        line = f"bind = {key.hyprland()}, exec, {shell_words(words)}"  # Hyprland's exec is sh -c too
        return [WriteFile(context.config_home / "hypr" / f"{SLOT}.conf", _include_file(line, key))]
    if family == "windows":
        return [windows_change(context, key)]
    return macos_changes(context)


def windows_change(context: Context, key: Key) -> WriteFile:
    import subprocess

    from mcv.errors import UsageError
    from mcv.plugins.install.lnk import hotkey, shell_link

    try:
        value = hotkey(key.modifiers, key.key)
    except ValueError as err:
        raise UsageError(str(err), hint=f"e.g. --key {WINDOWS_DEFAULT_KEY}") from None
    appdata = context.environ.get("APPDATA") or str(context.home / "AppData" / "Roaming")
    folder = Path(appdata) / "Microsoft" / "Windows" / "Start Menu" / "Programs"
    arguments = subprocess.list2cmdline([*context.launcher[1:], "snap"])  # how Windows splits a command line
    data = shell_link(context.launcher[0], arguments, "Pick a piece of the screen and ask MiniCPM-V about it", value)
    return WriteFile(folder / f"{LABEL}.lnk", data)


def after(context: Context) -> str | None:
    family = _family(context)
    key = chosen_key(context)
    if family == "kde":
        return (f"KDE reads the shortcut ({key.kde()}) when kglobalaccel starts: log out and in, "
                f"or set it now in System Settings > Shortcuts > {LABEL}")  # fmt: skip
    if family == "sway":
        path = context.config_home / "sway" / f"{SLOT}.conf"
        return f"add this line to your sway config, then run `swaymsg reload`:  include {path}"
    if family == "hyprland":
        path = context.config_home / "hypr" / f"{SLOT}.conf"
        return f"add this line to hyprland.conf (Hyprland reloads by itself):  source = {path}"
    if family == "macos":
        return (f"give it the key: System Settings > Keyboard > Keyboard Shortcuts… > Services > General > "
                f"{LABEL}: double-click “none” and press {key.mac()}; allow Screen Recording for it when asked")  # fmt: skip
    if family == "windows":
        return f"press {key.kde().replace('Meta', 'Win')} (Windows reads the keys of Start-menu shortcuts; sign out and in if it does not react yet)"
    if family in ("gnome", "xfce"):
        return f"press {key.gtk()} to snap"
    return None


def kde_entry(words: list[str], key: Key) -> bytes:
    text = keyfile(
        [
            (
                "Desktop Entry",
                (
                    ("Type", "Application"),
                    ("Name", LABEL),
                    ("Comment", "Pick a piece of the screen and ask MiniCPM-V about it"),
                    ("Exec", " ".join(exec_quote(word) for word in words)),
                    ("Icon", "edit-find"),
                    ("Terminal", "false"),
                    ("Categories", "Utility;"),
                    ("X-KDE-Shortcuts", key.kde()),
                ),
            )
        ]
    ).decode("utf-8")
    return f"# Written by `mcv plugins install shortcut`; `mcv plugins uninstall shortcut` removes it.\n# {_KEY_MARK}{key.gtk()}\n{text}".encode()


def _include_file(line: str, key: Key) -> bytes:
    return (
        "# Written by `mcv plugins install shortcut`; `mcv plugins uninstall shortcut` removes it.\n"
        f"# {_KEY_MARK}{key.gtk()}\n{line}\n"
    ).encode("utf-8")


def macos_changes(context: Context) -> list[WriteFile]:
    """The file actions' Quick Action, made into one that takes no input and runs `mcv snap`."""
    from mcv.plugins.actions import DesktopAction
    from mcv.plugins.install.targets.macos import info_plist, services_dir, workflow

    action = DesktopAction("snap", LABEL, "ocr", "clipboard", "Reading the text in", "Text", "edit-find")
    info = info_plist(LABEL)
    service = info["NSServices"][0]
    for key in ("NSRequiredContext", "NSSendFileTypes"):
        service.pop(key, None)  # available everywhere, with nothing selected
    flow = workflow(context, action)
    parameters = flow["actions"][0]["action"]["ActionParameters"]
    parameters["COMMAND_STRING"] = f"exec {shell_words(command_words(context))}"
    parameters["inputMethod"] = 0  # no arguments
    flow["workflowMetaData"].update({"serviceInputTypeIdentifier": "com.apple.Automator.nothing",
                                     "serviceApplicationBundleID": ""})  # fmt: skip
    bundle = services_dir(context) / f"{LABEL}.workflow" / "Contents"
    return [WriteFile(bundle / "Info.plist", plistlib.dumps(info)), WriteFile(bundle / "document.wflow", plistlib.dumps(flow))]
