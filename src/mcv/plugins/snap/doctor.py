"""What `mcv doctor` says about `mcv snap` here: which capture path works on this desktop, and
what to install when none does. Only warnings: a machine without a desktop can still run
MiniCPM-V, so nothing here makes the doctor fail.

"Works" is proven where that is cheap and invisible: on X11 and wlroots the first tool
captures one pixel (a rectangle needs no picker); the portal is asked its version (a
real screenshot would show a dialog); macOS and Windows tools are part of the system.
"""

from __future__ import annotations

from typing import Mapping

from mcv.errors import McvError
from mcv.plugins.snap.capture import Geometry, missing_programs, which
from mcv.plugins.snap.desktop import Desktop, detect_desktop
from mcv.plugins.snap.tools import INSTALL_HINTS, tools_for
from mcv.selftest.checks import OK, WARN, Check

NAME = "screen capture (mcv snap)"


def capture_checks(environ: Mapping[str, str], platform: str | None = None) -> list[Check]:
    desktop = detect_desktop(environ, platform)
    return [_capture(desktop, environ), *_clipboard(desktop, environ)]


def _capture(desktop: Desktop, environ: Mapping[str, str]) -> Check:
    where = desktop.describe()
    candidates = tools_for(desktop, "region")
    if not candidates:
        return Check(NAME, WARN, f"nothing to capture: {where}", hint=INSTALL_HINTS[desktop.where])
    for tool in candidates:
        if missing_programs(tool, "region", environ):
            continue
        if tool.how == "portal":
            from mcv.plugins.snap.portal import portal_version

            version = portal_version(environ)
            if version is None:
                continue
            return Check(NAME, OK, f"xdg-desktop-portal Screenshot (version {version}) on {where}")
        problem = _try_one_pixel(desktop, tool, environ)
        if problem is not None:
            return Check(NAME, WARN, f"{tool.name} is installed but cannot capture on {where}: {problem}")
        others = [other.name for other in candidates if other is not tool and not missing_programs(other, "region", environ)]
        also = f" (also: {', '.join(others)})" if others else ""
        return Check(NAME, OK, f"{tool.name} on {where}{also}")
    names = ", ".join(tool.name for tool in candidates)
    return Check(NAME, WARN, f"no capture tool for {where} (looked for {names})", hint=INSTALL_HINTS[desktop.where])


def _try_one_pixel(desktop: Desktop, tool, environ: Mapping[str, str]) -> str | None:
    if "geometry" not in tool.modes() or desktop.where not in ("x11", "wlroots"):
        return None  # nothing cheap and invisible to try
    from mcv.plugins.snap.capture import capture

    try:
        capture(tool, "geometry", environ, geometry=Geometry(1, 1, 0, 0))
    except McvError as err:
        return err.message
    return None


def _clipboard(desktop: Desktop, environ: Mapping[str, str]) -> list[Check]:
    """The default display is the clipboard: is its tool here?"""
    if desktop.where in ("darwin", "win32", "none"):
        return []
    if desktop.session == "wayland":
        found, need = which("wl-copy", environ), "wl-clipboard"
    else:
        found, need = which("xclip", environ) or which("xsel", environ), "xclip"
    if found:
        return []
    return [Check("snap clipboard", WARN, "nothing to put the answer on the clipboard with", hint=f"install {need}")]
