"""A key combination (`--key`), read in the GTK form or with `+`, written the way each desktop
spells it.

    Key.parse("<Super><Shift>T") == Key.parse("Super+Shift+T") == Key.parse("meta+shift+t")
    .gtk()        "<Super><Shift>t"   GNOME gsettings, Xfce xfconf
    .kde()        "Meta+Shift+T"      X-KDE-Shortcuts
    .sway()       "Mod4+Shift+t"      bindsym
    .hyprland()   "SUPER SHIFT, T"    bind = MODS, KEY, exec, ...
    .mac()        "⇧⌘T"               what macOS shows in Keyboard Shortcuts
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mcv.errors import UsageError

DEFAULT_KEY = "<Super><Shift>T"
_MODIFIERS = {
    "super": "super", "meta": "super", "mod4": "super", "win": "super", "cmd": "super", "command": "super", "logo": "super",
    "shift": "shift",
    "control": "control", "ctrl": "control", "primary": "control",
    "alt": "alt", "mod1": "alt", "option": "alt",
}  # fmt: skip
_ORDER = ("super", "control", "alt", "shift")
_NAMED = {"print": "Print", "space": "space", "return": "Return", "enter": "Return", "escape": "Escape", "tab": "Tab",
          "home": "Home", "end": "End", "insert": "Insert", "delete": "Delete", "pause": "Pause"}  # fmt: skip


@dataclass(frozen=True)
class Key:
    modifiers: frozenset[str]
    key: str  # "t", "F5", "Print"

    @classmethod
    def parse(cls, text: str) -> "Key":
        text = text.strip()
        if text.startswith("<"):
            parts = re.findall(r"<([^<>]+)>", text)
            rest = re.sub(r"<[^<>]+>", "", text)
        else:
            *parts, rest = [part.strip() for part in text.split("+")] if text else [""]
        modifiers = set()
        for part in parts:
            if part.lower() not in _MODIFIERS:
                raise UsageError(f"{part!r} in {text!r} is not a modifier", hint="use Super, Shift, Ctrl and Alt, e.g. '<Super><Shift>T'")
            modifiers.add(_MODIFIERS[part.lower()])
        rest = rest.strip()
        if len(rest) == 1 and rest.isprintable() and not rest.isspace():
            key = rest.lower()
        elif re.fullmatch(r"[Ff]([1-9]|1[0-9]|2[0-4])", rest):
            key = rest.upper()
        elif rest.lower() in _NAMED:
            key = _NAMED[rest.lower()]
        else:
            raise UsageError(f"{text!r} has no key to press", hint="e.g. '<Super><Shift>T', 'Ctrl+Alt+S' or '<Super>Print'")
        if not modifiers and len(key) == 1:
            raise UsageError(f"{text!r} would take a plain letter away from typing", hint="add a modifier: '<Super><Shift>T'")
        return cls(frozenset(modifiers), key)

    def _ordered(self) -> list[str]:
        return [name for name in _ORDER if name in self.modifiers]

    def gtk(self) -> str:
        names = {"control": "<Primary>", "alt": "<Alt>", "shift": "<Shift>", "super": "<Super>"}
        return "".join(names[m] for m in self._ordered()) + self.key

    def kde(self) -> str:
        names = {"control": "Ctrl", "alt": "Alt", "shift": "Shift", "super": "Meta"}
        ordered = [names[m] for m in ("super", "control", "alt", "shift") if m in self.modifiers]
        return "+".join(ordered + [self.key.upper() if len(self.key) == 1 else self.key])

    def sway(self) -> str:
        names = {"control": "Ctrl", "alt": "Mod1", "shift": "Shift", "super": "Mod4"}
        return "+".join([names[m] for m in ("super", "control", "alt", "shift") if m in self.modifiers] + [self.key])

    def hyprland(self) -> str:
        names = {"control": "CTRL", "alt": "ALT", "shift": "SHIFT", "super": "SUPER"}
        mods = " ".join(names[m] for m in ("super", "control", "alt", "shift") if m in self.modifiers)
        return f"{mods}, {self.key.upper() if len(self.key) == 1 else self.key}"

    def mac(self) -> str:
        names = {"control": "⌃", "alt": "⌥", "shift": "⇧", "super": "⌘"}  # in the order macOS shows them
        return "".join(names[m] for m in ("control", "alt", "shift", "super") if m in self.modifiers) + (self.key.upper() if len(self.key) == 1 else self.key)
