"""Changes that live in another program's settings store, not in a file mcv owns: a GNOME
custom keybinding (gsettings) and an Xfce keyboard shortcut (xfconf-query). The engine
applies and reverts them like the kinds in changes.py (REVERTERS names these).

Both stores are reached through their own command-line tools, run from argument lists
(values go in as GVariant text or plain arguments, never through a shell):

- `GSettingsKeybinding`: the relocatable schema
  org.gnome.settings-daemon.plugins.media-keys.custom-keybinding at mcv's own path
  (.../custom-keybindings/mcv-snap/), and that path added to the `custom-keybindings`
  list with every other entry kept. Undone by taking the path out of the list again
  (others kept) and resetting mcv's keys.
- `XfconfShortcut`: /commands/custom/<key> in the xfce4-keyboard-shortcuts channel.
  Xfce reads only the custom tree once /commands/custom/override is true, and when
  it is not, xfsettingsd replaces the custom tree with a copy of the defaults at its
  next start (xfce_shortcuts_provider_reset_to_defaults), which would drop mcv's key.
  So where override is not set yet, mcv first makes that same copy itself. Undone
  by removing mcv's property, only while it still holds mcv's command (the copy of
  the defaults stays: it is what Xfce makes on its own).

A key already bound to something else, however it is spelled there, is refused
(InputError, with a hint to choose another `--key`): mcv never takes a shortcut
away from another command.

Reverting runs in the environment of the process (os.environ): the engine gives
reverters no context, and on a desktop they are the same.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any, Mapping

from mcv.errors import InputError, UsageError
from mcv.plugins.install.changes import DIFFERENT, INSTALLED, MISSING
from mcv.plugins.install.shortcut_keys import Key

MEDIA_KEYS = "org.gnome.settings-daemon.plugins.media-keys"
CUSTOM_SCHEMA = MEDIA_KEYS + ".custom-keybinding"
LIST_KEY = "custom-keybindings"
CUSTOM_BASE = "/org/gnome/settings-daemon/plugins/media-keys/custom-keybindings/"
XFCE_CHANNEL = "xfce4-keyboard-shortcuts"
TOOL_TIMEOUT = 20.0


# --- GVariant text (what gsettings prints and reads) ---------------------------------------------


def gvariant_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def gvariant_strings(items: list[str]) -> str:
    return "[" + ", ".join(gvariant_string(item) for item in items) + "]" if items else "@as []"


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "a": "\a"}


def parse_gvariant_strings(text: str) -> list[str]:
    """The strings of a GVariant text value: `'a'`, `"b"`, `['a', "b"]`, `@as []`."""
    items: list[str] = []
    index = 0
    while index < len(text):
        quote = text[index]
        if quote not in "'\"":
            index += 1
            continue
        index += 1
        chars: list[str] = []
        while index < len(text) and text[index] != quote:
            char = text[index]
            if char == "\\" and index + 1 < len(text):
                following = text[index + 1]
                if following == "u" and re.match(r"[0-9a-fA-F]{4}", text[index + 2 : index + 6]):
                    chars.append(chr(int(text[index + 2 : index + 6], 16)))
                    index += 6
                    continue
                chars.append(_ESCAPES.get(following, following))
                index += 2
                continue
            chars.append(char)
            index += 1
        items.append("".join(chars))
        index += 1
    return items


# --- running the tools ----------------------------------------------------------------------------


def _run(argv: list[str], environ: Mapping[str, str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(argv, capture_output=True, text=True, env=dict(environ), timeout=TOOL_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InputError(f"{os.path.basename(argv[0])} did not answer within {TOOL_TIMEOUT:.0f} s") from None
    except OSError as err:
        raise InputError(f"cannot run {os.path.basename(argv[0])} ({err.strerror or err})") from None


def _checked(argv: list[str], environ: Mapping[str, str]) -> str:
    done = _run(argv, environ)
    if done.returncode != 0:
        detail = (done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1]
        raise InputError(f"{os.path.basename(argv[0])} {argv[1]} failed: {detail}")
    return done.stdout


def _program(name: str, environ: Mapping[str, str], package: str) -> str:
    path = shutil.which(name, path=environ.get("PATH", os.defpath))
    if path is None:
        raise InputError(f"{name} is not installed", hint=f"install {package}")
    return path


# --- GNOME ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GSettingsKeybinding:
    slot: str  # mcv's folder under CUSTOM_BASE: "mcv-snap"
    name: str
    command: str  # parsed by GLib (g_shell_parse_argv), not a shell
    binding: str  # "<Super><Shift>t"
    environ: Mapping[str, str] = field(default_factory=dict, compare=False)
    kind = "gsettings"

    @property
    def dconf_path(self) -> str:
        return f"{CUSTOM_BASE}{self.slot}/"

    @property
    def path(self) -> str:  # where the engine says it is (and tells changes apart by)
        return f"gsettings {MEDIA_KEYS} {LIST_KEY} {self.dconf_path}"

    def describe(self) -> str:
        return f"GNOME custom shortcut {self.binding} -> {self.command} (gsettings {self.dconf_path})"

    def _gsettings(self) -> str:
        return _program("gsettings", self.environ, "libglib2.0-bin")

    def state(self) -> str:
        listed = _listed(self._gsettings(), self.environ)
        if self.dconf_path not in listed:
            return MISSING
        values = _values(self._gsettings(), self.dconf_path, self.environ)
        return INSTALLED if values == {"name": self.name, "command": self.command, "binding": self.binding} else DIFFERENT

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        gsettings = self._gsettings()
        listed = _listed(gsettings, self.environ)
        for other in listed:
            if other == self.dconf_path:
                continue
            values = _values(gsettings, other, self.environ)
            if same_key(values.get("binding", ""), self.binding):
                raise InputError(
                    f"{self.binding} is already the GNOME shortcut for {values.get('name') or values.get('command')!r}",
                    hint="choose another key: mcv plugins install shortcut --key '<Super><Alt>t'",
                )
        schema = f"{CUSTOM_SCHEMA}:{self.dconf_path}"
        for key, value in (("name", self.name), ("command", self.command), ("binding", self.binding)):
            _checked([gsettings, "set", schema, key, gvariant_string(value)], self.environ)
        if self.dconf_path not in listed:
            # Read again just before writing: the list is shared with Settings and other tools.
            current = _listed(gsettings, self.environ)
            _checked([gsettings, "set", MEDIA_KEYS, LIST_KEY, gvariant_strings(current + [self.dconf_path])], self.environ)
        return {"kind": self.kind, "path": self.path, "dconf_path": self.dconf_path, "key": self.binding}


def _listed(gsettings: str, environ: Mapping[str, str]) -> list[str]:
    return parse_gvariant_strings(_checked([gsettings, "get", MEDIA_KEYS, LIST_KEY], environ))


def _values(gsettings: str, dconf_path: str, environ: Mapping[str, str]) -> dict[str, str]:
    values = {}
    for key in ("name", "command", "binding"):
        found = parse_gvariant_strings(_checked([gsettings, "get", f"{CUSTOM_SCHEMA}:{dconf_path}", key], environ))
        values[key] = found[0] if found else ""
    return values


def revert_gsettings(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
    environ = os.environ
    gsettings = _program("gsettings", environ, "libglib2.0-bin")
    dconf_path = record["dconf_path"]
    listed = _listed(gsettings, environ)
    if dconf_path in listed:
        _checked([gsettings, "set", MEDIA_KEYS, LIST_KEY, gvariant_strings([p for p in listed if p != dconf_path])], environ)
    for key in ("name", "command", "binding"):
        _checked([gsettings, "reset", f"{CUSTOM_SCHEMA}:{dconf_path}", key], environ)
    return None


# --- Xfce -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class XfconfShortcut:
    binding: str  # "<Super><Shift>t"
    command: str  # run by Xfce without a shell
    environ: Mapping[str, str] = field(default_factory=dict, compare=False)
    kind = "xfconf"

    @property
    def xfconf_property(self) -> str:
        return f"/commands/custom/{self.binding}"

    @property
    def path(self) -> str:
        return f"xfconf {XFCE_CHANNEL} {self.xfconf_property}"

    def describe(self) -> str:
        return f"Xfce keyboard shortcut {self.binding} -> {self.command} (xfconf {XFCE_CHANNEL} {self.xfconf_property})"

    def _current(self) -> str | None:
        return xfconf_value(self.xfconf_property, self.environ)

    def state(self) -> str:
        current = self._current()
        if current is None:
            return MISSING
        return INSTALLED if current == self.command else DIFFERENT

    def apply(self, previous: Mapping[str, Any] | None) -> dict[str, Any]:
        current = self._current()
        ours = previous.get("value") if previous else None
        # The same key may be spelled otherwise (Xfce's dialog writes <Shift><Super>t): look at them all.
        taken = [value for prop, value in _xfce_shortcuts(self.environ) if prop != self.xfconf_property
                 and same_key(prop.rsplit("/", 1)[1], self.binding)]  # fmt: skip
        for other in ([current] if current is not None else []) + taken:
            if other not in (self.command, ours):
                raise InputError(
                    f"{self.binding} is already the Xfce shortcut for {other!r}",
                    hint="choose another key: mcv plugins install shortcut --key '<Super><Alt>t'",
                )
        program = _program("xfconf-query", self.environ, "xfconf")
        if xfconf_value("/commands/custom/override", self.environ) != "true":
            _clone_defaults(program, self.environ)
        argv = [program, "-c", XFCE_CHANNEL, "-p", self.xfconf_property]
        _checked(argv + (["-s", self.command] if current is not None else ["-n", "-t", "string", "-s", self.command]), self.environ)
        return {"kind": self.kind, "path": self.path, "property": self.xfconf_property, "value": self.command, "key": self.binding}


def _clone_defaults(program: str, environ: Mapping[str, str]) -> None:
    """What xfsettingsd does when the custom tree is not in use yet: copy each default command
    shortcut (the direct children of /commands/default, strings) and set override."""
    done = _run([program, "-c", XFCE_CHANNEL, "-p", "/commands/default", "-l"], environ)
    for prop in done.stdout.splitlines() if done.returncode == 0 else []:
        shortcut = prop[len("/commands/default/") :]
        if not prop.startswith("/commands/default/") or "/" in shortcut:
            continue  # a sub-property such as .../startup-notify (a boolean): Xfce copies strings only
        value = xfconf_value(prop, environ)
        custom = f"/commands/custom/{shortcut}"
        if value is not None and xfconf_value(custom, environ) is None:
            _checked([program, "-c", XFCE_CHANNEL, "-p", custom, "-n", "-t", "string", "-s", value], environ)
    _checked([program, "-c", XFCE_CHANNEL, "-p", "/commands/custom/override", "-n", "-t", "bool", "-s", "true"], environ)


def _xfce_shortcuts(environ: Mapping[str, str]) -> list[tuple[str, str]]:
    """(property, command) of the command shortcuts Xfce uses: the custom tree, and the
    defaults too while the custom tree is not in use yet (they are what it becomes)."""
    program = _program("xfconf-query", environ, "xfconf")
    trees = ["/commands/custom"]
    if xfconf_value("/commands/custom/override", environ) != "true":
        trees.append("/commands/default")
    found = []
    for tree in trees:
        done = _run([program, "-c", XFCE_CHANNEL, "-p", tree, "-l", "-v"], environ)
        for line in done.stdout.splitlines() if done.returncode == 0 else []:
            prop, _, value = line.partition(" ")
            if prop.startswith(tree + "/") and "/" not in prop[len(tree) + 1 :]:  # not .../startup-notify
                found.append((prop, value.strip()))
    return found


def same_key(one: str, other: str) -> bool:
    """Whether two accelerator strings are the same key: <Shift><Super>t is <Super><Shift>T."""
    try:
        return Key.parse(one) == Key.parse(other)
    except UsageError:  # a key mcv does not spell (XF86Mail, <Hyper>...): compared as written
        return one.strip().lower() == other.strip().lower()


def xfconf_value(prop: str, environ: Mapping[str, str]) -> str | None:
    program = _program("xfconf-query", environ, "xfconf")
    done = _run([program, "-c", XFCE_CHANNEL, "-p", prop], environ)
    if done.returncode != 0:
        return None  # "Property ... does not exist on channel ..."
    return done.stdout[:-1] if done.stdout.endswith("\n") else done.stdout


def revert_xfconf(record: Mapping[str, Any], force: bool, winreg: Any = None) -> str | None:
    environ = os.environ
    current = xfconf_value(record["property"], environ)
    if current is None:
        return None
    if current != record["value"] and not force:
        return f"{record['property']} was changed since mcv set it: left as it is (--force removes it)"
    _checked([_program("xfconf-query", environ, "xfconf"), "-c", XFCE_CHANNEL, "-p", record["property"], "-r"], environ)
    return None
