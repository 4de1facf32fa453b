"""The capture tools of each desktop, as data: what each one runs per mode, where it works,
and what to install. Every command is an argument list (`{out}`, `{window}`, `{x}` ... are
filled in by capture.py); nothing here runs anything.

Modes: `region` (the desktop's own picker: drag a rectangle), `screen` (everything,
no picker), `window` (the active window, no picker where the desktop allows it),
`geometry` (a rectangle given as WxH+X+Y, no picker: scripts and tests).

How a tool is run (`how`):
- "argv": one program, its argv below.
- "grim": Wayland wlroots. Region: `slurp` prints the rectangle, which becomes grim's
  `-g` argument (two processes, no shell). Window: the focused window's rectangle from
  `swaymsg -t get_tree` or `hyprctl -j activewindow`.
- "portal": org.freedesktop.portal.Screenshot over D-Bus (portal.py); GNOME and KDE on
  Wayland, where X11 tools see nothing and gnome-screenshot is refused by the shell.
- "screenclip": Windows' screen-clip overlay (`ms-screenclip:`), its result read from
  the clipboard; "grab": Pillow's ImageGrab (Windows --screen / --window).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from mcv.plugins.snap.desktop import Desktop

MODES = ("region", "screen", "window", "geometry")


@dataclass(frozen=True)
class Tool:
    name: str
    package: str  # what to install (the Debian/Fedora/Arch name)
    how: str  # "argv", "grim", "portal", "screenclip", "grab"
    argv: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # mode -> arguments after the program
    needs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # mode -> other programs it runs
    interactive: frozenset[str] = frozenset({"region"})  # modes where the person picks (a cancel is possible)

    def modes(self) -> tuple[str, ...]:
        if self.how == "argv":
            return tuple(mode for mode in MODES if mode in self.argv)
        return {
            "grim": ("region", "screen", "window", "geometry"),
            "portal": ("region", "screen", "window"),
            "screenclip": ("region",),
            "grab": ("screen", "window", "geometry"),
        }[self.how]

    def programs(self, mode: str) -> tuple[str, ...]:
        """The programs `mode` runs (all must be installed)."""
        own = {"argv": (self.name,), "grim": ("grim",), "portal": (), "screenclip": (), "grab": ()}[self.how]
        return own + tuple(self.needs.get(mode, ()))


MAIM = Tool(
    "maim", "maim", "argv",
    argv={
        "region": ("--hidecursor", "--select", "{out}"),
        "screen": ("--hidecursor", "{out}"),
        "window": ("--hidecursor", "--window", "{window}", "{out}"),
        "geometry": ("--hidecursor", "--geometry", "{w}x{h}+{x}+{y}", "{out}"),
    },
    needs={"window": ("xdotool",)},
)  # fmt: skip
SCROT = Tool(
    "scrot", "scrot", "argv",
    argv={
        "region": ("--select", "--overwrite", "{out}"),
        "screen": ("--overwrite", "{out}"),
        "window": ("--focused", "--overwrite", "{out}"),
        "geometry": ("--autoselect", "{x},{y},{w},{h}", "--overwrite", "{out}"),
    },
)  # fmt: skip
IMPORT = Tool(
    "import", "imagemagick", "argv",
    argv={
        "region": ("{out}",),  # ImageMagick's own picker: click a window or drag a rectangle
        "screen": ("-window", "root", "{out}"),
        "window": ("-window", "{window}", "{out}"),
        "geometry": ("-window", "root", "-crop", "{w}x{h}+{x}+{y}", "+repage", "{out}"),
    },
    needs={"window": ("xdotool",)},
)  # fmt: skip
GNOME_SCREENSHOT = Tool(
    "gnome-screenshot", "gnome-screenshot", "argv",
    argv={"region": ("-a", "-f", "{out}"), "screen": ("-f", "{out}"), "window": ("-w", "-f", "{out}")},
)  # fmt: skip
SPECTACLE = Tool(
    "spectacle", "spectacle", "argv",
    argv={
        # -b background (no main window), -n no notification, -o the file.
        "region": ("-r", "-b", "-n", "-o", "{out}"),
        "screen": ("-f", "-b", "-n", "-o", "{out}"),
        "window": ("-a", "-b", "-n", "-o", "{out}"),
    },
)  # fmt: skip
GRIM = Tool("grim", "grim slurp", "grim", needs={"region": ("slurp",)})
PORTAL = Tool("xdg-desktop-portal", "xdg-desktop-portal (and -gnome or -kde)", "portal", interactive=frozenset({"region", "window"}))
SCREENCAPTURE = Tool(
    "screencapture", "screencapture (part of macOS)", "argv",
    argv={
        "region": ("-i", "-x", "{out}"),  # -i interactive (Esc cancels), -x no sound
        "screen": ("-x", "{out}"),
        "window": ("-i", "-w", "-x", "{out}"),  # macOS has no "active window" flag: a click picks it
        "geometry": ("-x", "-R", "{x},{y},{w},{h}", "{out}"),
    },
    interactive=frozenset({"region", "window"}),
)  # fmt: skip
SCREENCLIP = Tool("screenclip", "Snipping Tool (part of Windows)", "screenclip")
GRAB = Tool("ImageGrab", "Pillow", "grab")

# Per kind of place (Desktop.where), best first. X11 tools also run on GNOME/KDE X11 sessions.
SESSIONS: dict[str, tuple[Tool, ...]] = {
    "x11": (MAIM, SCROT, IMPORT, GNOME_SCREENSHOT, SPECTACLE),
    "wlroots": (GRIM, PORTAL),
    "gnome-wayland": (PORTAL, GNOME_SCREENSHOT),
    "kde-wayland": (SPECTACLE, PORTAL),
    "wayland": (PORTAL, GRIM),
    "darwin": (SCREENCAPTURE,),
    "win32": (SCREENCLIP, GRAB),
    "none": (),
}
# What to tell someone who has none of them.
INSTALL_HINTS: dict[str, str] = {
    "x11": "install maim (or scrot, or ImageMagick for `import`)",
    "wlroots": "install grim and slurp",
    "gnome-wayland": "install xdg-desktop-portal-gnome (it comes with GNOME)",
    "kde-wayland": "install spectacle, or xdg-desktop-portal-kde",
    "wayland": "install xdg-desktop-portal and your desktop's portal backend (or grim and slurp on a wlroots compositor)",
    "darwin": "screencapture is part of macOS: check the Screen Recording permission of the terminal or app that runs mcv",
    "win32": "Windows 10 1809 or later has the screen-clip overlay (Win+Shift+S)",
    "none": "run it inside a graphical session (DISPLAY or WAYLAND_DISPLAY must be set)",
}


def tools_for(desktop: Desktop, mode: str) -> tuple[Tool, ...]:
    """The tools that can capture `mode` here, best first (installed or not)."""
    if desktop.where == "x11":
        order = list(SESSIONS["x11"])
        # The desktop's own tool first on its own desktop: it knows the windows best.
        own = {"gnome": GNOME_SCREENSHOT, "kde": SPECTACLE}.get(desktop.family or "")
        if own is not None and mode == "window":
            order.remove(own)
            order.insert(0, own)
        return tuple(tool for tool in order if mode in tool.modes())
    return tuple(tool for tool in SESSIONS[desktop.where] if mode in tool.modes())
