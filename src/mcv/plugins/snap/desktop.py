"""Which desktop this is, from the environment a shortcut or a terminal gives mcv.

Session: `XDG_SESSION_TYPE` when it says x11 or wayland, else WAYLAND_DISPLAY
(Wayland) or DISPLAY (X11). Desktop: `XDG_CURRENT_DESKTOP` (a `:`-list such as
`ubuntu:GNOME`), plus the compositors' own sockets (SWAYSOCK,
HYPRLAND_INSTANCE_SIGNATURE), which a session started from a TTY may set
without XDG_CURRENT_DESKTOP.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Mapping

WLROOTS_DESKTOPS = frozenset({"SWAY", "HYPRLAND", "WAYFIRE", "RIVER", "LABWC", "NIRI", "DWL", "HIKARI"})


@dataclass(frozen=True)
class Desktop:
    platform: str  # "linux", "darwin", "win32"
    session: str | None  # "x11", "wayland", or None (no display)
    names: tuple[str, ...]  # XDG_CURRENT_DESKTOP, upper case: ("UBUNTU", "GNOME")

    @property
    def family(self) -> str | None:
        """gnome, kde, xfce, sway, hyprland, wlroots (another wlroots compositor), or None."""
        for name, family in (("GNOME", "gnome"), ("KDE", "kde"), ("XFCE", "xfce"), ("SWAY", "sway"), ("HYPRLAND", "hyprland")):
            if name in self.names:
                return family
        if WLROOTS_DESKTOPS.intersection(self.names):
            return "wlroots"
        return None

    @property
    def where(self) -> str:
        """The kind of place capture tools are chosen for (tools.py `SESSIONS`)."""
        if self.platform in ("darwin", "win32"):
            return self.platform
        if self.session == "x11":
            return "x11"
        if self.session == "wayland":
            family = self.family
            if family in ("sway", "hyprland", "wlroots"):
                return "wlroots"
            return f"{family}-wayland" if family in ("gnome", "kde") else "wayland"
        return "none"

    def describe(self) -> str:
        if self.platform == "darwin":
            return "macOS"
        if self.platform == "win32":
            return "Windows"
        if self.session is None:
            return "no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)"
        desktop = ":".join(self.names) or "an unnamed desktop"
        return f"{desktop} on {'X11' if self.session == 'x11' else 'Wayland'}"


def detect_desktop(environ: Mapping[str, str], platform: str | None = None) -> Desktop:
    platform = sys.platform if platform is None else platform
    if platform.startswith("linux") or platform.startswith("freebsd") or platform.startswith("openbsd"):
        platform_name = "linux"
    else:
        platform_name = platform
    names = tuple(part.strip().upper() for part in environ.get("XDG_CURRENT_DESKTOP", "").split(":") if part.strip())
    if environ.get("SWAYSOCK") and "SWAY" not in names:
        names += ("SWAY",)
    if environ.get("HYPRLAND_INSTANCE_SIGNATURE") and "HYPRLAND" not in names:
        names += ("HYPRLAND",)
    session: str | None = None
    if platform_name == "linux":
        declared = environ.get("XDG_SESSION_TYPE", "").lower()
        if declared in ("x11", "wayland") and (environ.get("WAYLAND_DISPLAY") or environ.get("DISPLAY")):
            session = declared
        elif environ.get("WAYLAND_DISPLAY"):
            session = "wayland"
        elif environ.get("DISPLAY"):
            session = "x11"
    return Desktop(platform_name, session, names)
