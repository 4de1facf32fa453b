"""Run one capture tool: PNG bytes, or `Cancelled` when the person backed out of the picker.

Every tool writes into a private temporary folder (mode 0700, removed on the
way out whatever happens). Commands are argument lists; the two-step captures
(slurp then grim, xdotool then maim/import, swaymsg/hyprctl then grim) pass the
first program's output to the second as one argument, never through a shell.

A cancel: an interactive mode whose picker exits non-zero saying it was
cancelled or saying nothing (maim "Selection was cancelled", scrot "aborting
shot", slurp "selection cancelled": Esc or a right click), or exits 0 having
written nothing (spectacle, screencapture, gnome-screenshot), or a portal
answering "cancelled". A picker that fails with another message (no display,
no layer-shell) is a `CaptureFailed`, as is a failing non-interactive mode:
a shortcut that silently does nothing would hide the reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from mcv.errors import EXIT_USAGE, McvError
from mcv.plugins.snap.tools import Tool

PICKER_TIMEOUT = 600.0  # seconds a person may take to pick (then it counts as cancelled)
TOOL_TIMEOUT = 30.0  # seconds for a capture without a picker
_GEOMETRY = re.compile(r"^(\d+)x(\d+)\+(-?\d+)\+(-?\d+)$")
_SLURP = re.compile(r"^-?\d+,-?\d+ \d+x\d+$")
_CANCEL_WORDS = ("cancel", "abort")  # what maim, scrot and slurp say on Esc or a right click

class Cancelled(Exception):
    """The person cancelled the picker: nothing was captured, and nothing is to be said."""

class CaptureFailed(McvError):
    exit_code = EXIT_USAGE


class PortalUnavailable(CaptureFailed):
    """No screenshot portal to ask (no session bus, no portal service on it): another tool may still capture."""

@dataclass(frozen=True)
class Geometry:
    width: int
    height: int
    x: int
    y: int

    @classmethod
    def parse(cls, text: str) -> "Geometry":
        match = _GEOMETRY.match(text.strip())
        if not match or int(match[1]) == 0 or int(match[2]) == 0:
            raise CaptureFailed(f"{text!r} is not a rectangle", hint="write it WIDTHxHEIGHT+X+Y, e.g. 400x300+10+20")
        return cls(int(match[1]), int(match[2]), int(match[3]), int(match[4]))

    def fields(self) -> dict[str, str]:
        return {"w": str(self.width), "h": str(self.height), "x": str(self.x), "y": str(self.y)}

    def grim(self) -> str:
        return f"{self.x},{self.y} {self.width}x{self.height}"

def which(name: str, environ: Mapping[str, str]) -> str | None:
    return shutil.which(name, path=environ.get("PATH", os.defpath))

def missing_programs(tool: Tool, mode: str, environ: Mapping[str, str]) -> list[str]:
    return [name for name in tool.programs(mode) if which(name, environ) is None]

def capture(tool: Tool, mode: str, environ: Mapping[str, str], *, geometry: Geometry | None = None, portal=None, clipboard=None) -> bytes:
    """The PNG bytes `tool` captured in `mode`; raises Cancelled or CaptureFailed."""
    with tempfile.TemporaryDirectory(prefix="mcv-snap-") as folder:  # mkdtemp: mode 0700
        out = Path(folder) / "capture.png"
        if tool.how == "argv":
            _run_argv(tool, mode, environ, out, geometry)
        elif tool.how == "grim":
            _run_grim(mode, environ, out, geometry)
        elif tool.how == "portal":
            from mcv.plugins.snap.portal import screenshot

            (portal or screenshot)(interactive=mode != "screen", into=out, environ=environ)
        elif tool.how == "screenclip":
            from mcv.plugins.snap.windows import screen_clip

            return screen_clip(environ, clipboard=clipboard)
        elif tool.how == "grab":
            from mcv.plugins.snap.windows import grab

            return grab(mode, geometry)
        else:  # pragma: no cover - tools.py declares only the kinds above
            raise ValueError(tool.how)
        return _read_png(out, tool, mode)

def _fill(words: Sequence[str], values: Mapping[str, str]) -> list[str]:
    return [word.format_map(values) for word in words]

def _run_argv(tool: Tool, mode: str, environ: Mapping[str, str], out: Path, geometry: Geometry | None) -> None:
    values = {"out": str(out)}
    if geometry is not None:
        values.update(geometry.fields())
    if "{window}" in tool.argv[mode]:
        values["window"] = _active_x11_window(environ)
    argv = [_program(tool.name, environ), *_fill(tool.argv[mode], values)]
    interactive = mode in tool.interactive
    done = _run(argv, environ, interactive=interactive)
    if interactive and (_picker_cancelled(done) or (done.returncode == 0 and not _written(out))):
        raise Cancelled()
    if done.returncode != 0:
        raise CaptureFailed(f"{tool.name} failed (exit code {done.returncode}){_last_line(done.stderr)}")

def _run_grim(mode: str, environ: Mapping[str, str], out: Path, geometry: Geometry | None) -> None:
    grim = _program("grim", environ)
    if mode == "region":
        picked = _run([_program("slurp", environ)], environ, interactive=True)
        rectangle = picked.stdout.decode("utf-8", "replace").strip()
        if _picker_cancelled(picked) or (picked.returncode == 0 and not rectangle):
            raise Cancelled()  # slurp: "selection cancelled", exit 1
        if picked.returncode != 0:
            raise CaptureFailed(f"slurp failed (exit code {picked.returncode}){_last_line(picked.stderr)}")
        if not _SLURP.match(rectangle):
            raise CaptureFailed(f"slurp printed {rectangle[:60]!r}, not a rectangle")
        argv = [grim, "-g", rectangle, str(out)]
    elif mode == "screen":
        argv = [grim, str(out)]
    elif mode == "window":
        argv = [grim, "-g", _focused_wayland_window(environ).grim(), str(out)]
    else:
        assert geometry is not None
        argv = [grim, "-g", geometry.grim(), str(out)]
    done = _run(argv, environ, interactive=False)
    if done.returncode != 0:
        raise CaptureFailed(f"grim failed (exit code {done.returncode}){_last_line(done.stderr)}")

def _active_x11_window(environ: Mapping[str, str]) -> str:
    done = _run([_program("xdotool", environ), "getactivewindow"], environ, interactive=False)
    window = done.stdout.decode("ascii", "replace").strip()
    if done.returncode != 0 or not window.isdigit():
        raise CaptureFailed(
            "there is no active window to capture", hint="click a window first, or use --screen (or no flag: pick a region)"
        )
    return window

def _focused_wayland_window(environ: Mapping[str, str]) -> Geometry:
    """The focused window's rectangle on sway (get_tree) or Hyprland (activewindow)."""
    if environ.get("HYPRLAND_INSTANCE_SIGNATURE") and which("hyprctl", environ):
        done = _run([_program("hyprctl", environ), "-j", "activewindow"], environ, interactive=False)
        window = _json(done.stdout, "hyprctl")
        if not isinstance(window, dict) or "at" not in window:
            raise CaptureFailed("Hyprland has no active window")
        (x, y), (width, height) = window["at"], window["size"]
        return Geometry(int(width), int(height), int(x), int(y))
    if which("swaymsg", environ):
        done = _run([_program("swaymsg", environ), "-t", "get_tree"], environ, interactive=False)
        node = _focused_node(_json(done.stdout, "swaymsg"))
        if node is None:
            raise CaptureFailed("sway has no focused window")
        rect = node["rect"]
        return Geometry(int(rect["width"]), int(rect["height"]), int(rect["x"]), int(rect["y"]))
    raise CaptureFailed("--window needs sway (swaymsg) or Hyprland (hyprctl) here", hint="pick a region instead (no flag)")

def _focused_node(node) -> dict | None:
    if not isinstance(node, dict):
        return None
    if node.get("focused") and node.get("type") in ("con", "floating_con"):
        return node
    for child in node.get("nodes", []) + node.get("floating_nodes", []):
        found = _focused_node(child)
        if found is not None:
            return found
    return None

def _json(data: bytes, tool: str):
    try:
        return json.loads(data.decode("utf-8", "replace"))
    except ValueError:
        raise CaptureFailed(f"{tool} did not print JSON") from None

def _program(name: str, environ: Mapping[str, str]) -> str:
    path = which(name, environ)
    if path is None:
        raise CaptureFailed(f"{name} is not installed", hint=f"install {name}")
    return path

def _run(argv: list[str], environ: Mapping[str, str], *, interactive: bool) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=dict(environ),
            timeout=PICKER_TIMEOUT if interactive else TOOL_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        if interactive:
            raise Cancelled() from None
        raise CaptureFailed(f"{os.path.basename(argv[0])} did not finish within {TOOL_TIMEOUT:.0f} s") from None
    except OSError as err:
        raise CaptureFailed(f"cannot run {os.path.basename(argv[0])} ({err.strerror or err})") from None

def _picker_cancelled(done: subprocess.CompletedProcess) -> bool:
    """A picker that exited non-zero because the person backed out, not because it could not run."""
    if done.returncode == 0:
        return False
    said = done.stderr.decode("utf-8", "replace").lower()
    return not said.strip() or any(word in said for word in _CANCEL_WORDS)


def _written(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False

def _read_png(path: Path, tool: Tool, mode: str) -> bytes:
    if not _written(path):
        raise CaptureFailed(f"{tool.name} wrote no image")
    return path.read_bytes()

def _last_line(stderr: bytes) -> str:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    return f": {lines[-1].strip()}" if lines else ""
