"""`mcv snap`: capture (capture.py, with the first tool this desktop has), then one desktop
job over the core session (plugins/desktop/job.py), which shows the answer: by default
on the clipboard plus a notification.

The capture goes through the normal image pipeline as a PNG file in a private
temporary folder (a screenshot of text stays lossless PNG there), removed when
the job ends. A cancelled picker returns EXIT_CANCELLED and shows nothing; a
desktop with no capture tool shows one dialog saying what to install.
"""

from __future__ import annotations

import os
import tempfile
from typing import Any, Mapping

from mcv.errors import EXIT_CANCELLED, McvError
from mcv.plugins.actions import ACTIONS, DesktopAction
from mcv.plugins.snap.capture import Cancelled, CaptureFailed, Geometry, PortalUnavailable, capture, missing_programs
from mcv.plugins.snap.desktop import Desktop, detect_desktop
from mcv.plugins.snap.tools import INSTALL_HINTS, Tool, tools_for

DEFAULT_PRESET = "ocr"
DEFAULT_OUTPUT = "clipboard"  # the clipboard plus a notification saying what was copied
FILE_NAMES = {"region": "screen region.png", "screen": "screen.png", "window": "window.png", "geometry": "screen region.png"}


def run_snap(
    env,
    *,
    mode: str,
    preset: str | None,
    prompt: str | None,
    output: str | None,
    flags: Mapping[str, Any],
    geometry: str | None = None,
    platform: str | None = None,
) -> int:
    from mcv.plugins.desktop.job import run_desktop_job

    output = output or DEFAULT_OUTPUT
    try:
        if preset is None and not prompt:
            preset = DEFAULT_PRESET
        if preset is not None:
            _check_preset(env.environ, preset, flags)  # before the picker: a typo costs no capture
        rectangle = Geometry.parse(geometry) if geometry is not None else None
        data = take(detect_desktop(env.environ, platform), mode, env.environ, geometry=rectangle)
    except Cancelled:
        return EXIT_CANCELLED
    except McvError as err:
        _failed(env, err, output)
        return err.exit_code
    with tempfile.TemporaryDirectory(prefix="mcv-snap-") as folder:
        path = os.path.join(folder, FILE_NAMES[mode])
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(data)
        return run_desktop_job(env, snap_action(preset), [path], output=output, flags=flags, question=prompt)


def take(desktop: Desktop, mode: str, environ: Mapping[str, str], *, geometry: Geometry | None = None, **inject) -> bytes:
    """PNG bytes from the first capture tool that is here; Cancelled, or CaptureFailed saying what to install."""
    candidates = tools_for(desktop, mode)
    ready = available_tools(desktop, mode, environ)
    problem: McvError | None = None
    for tool in ready:
        try:
            return capture(tool, mode, environ, geometry=geometry, **inject)
        except CaptureFailed as err:
            if tool.how != "portal":
                raise
            problem = err  # the next tool may still work (gnome-screenshot, spectacle, grim)
    if problem is not None and not isinstance(problem, PortalUnavailable):
        raise problem  # the portal is there but failed
    what = {"region": "a region", "screen": "the screen", "window": "a window", "geometry": "a rectangle"}[mode]
    if not candidates:
        on = ": " if desktop.where == "none" else " on "  # "...: no graphical session (...)"
        raise CaptureFailed(f"cannot capture {what}{on}{desktop.describe()}", hint=INSTALL_HINTS[desktop.where])
    names = ", ".join(tool.name for tool in candidates)
    raise CaptureFailed(f"no screen capture tool for {what} on {desktop.describe()} (looked for {names})",
                        hint=INSTALL_HINTS[desktop.where])  # fmt: skip


def available_tools(desktop: Desktop, mode: str, environ: Mapping[str, str]) -> list[Tool]:
    return [tool for tool in tools_for(desktop, mode) if not missing_programs(tool, mode, environ)]


def snap_action(preset: str | None) -> DesktopAction:
    """What the job shows: a desktop action named after the preset (ocr -> "Text copied")."""
    for action in ACTIONS:
        if preset is not None and action.preset == preset:
            return DesktopAction("snap", "Snap", preset, DEFAULT_OUTPUT, action.doing, action.title, action.icon)
    if preset is None:
        return DesktopAction("snap", "Snap", None, DEFAULT_OUTPUT, "Answering about", "Answer", "dialog-question")
    return DesktopAction("snap", "Snap", preset, DEFAULT_OUTPUT, "Asking about", preset.capitalize(), "image-x-generic")


def _check_preset(environ: Mapping[str, str], name: str, flags: Mapping[str, Any]) -> None:
    from mcv.core.presets import find_preset
    from mcv.core.settings import Settings

    find_preset(Settings.load(environ, flags=dict(flags)).config, name)


def _failed(env, err: McvError, output: str) -> None:
    env.error(err)
    if output == "print":
        return
    from mcv.plugins.desktop.dialogs import StderrDialogs, choose_dialogs

    dialogs = choose_dialogs(env.environ, stderr=env.stderr)
    if not isinstance(dialogs, StderrDialogs):  # stderr already has it
        dialogs.show_error("mcv: snap failed", err.message, err.hint)
