"""Every capture path with stub tools first on PATH: each stub records its argv (and who started
it: mcv itself, never a shell) and then writes a prepared PNG, prints a rectangle, or cancels."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from mcv.core.config import DEFAULT_MODEL
from mcv.errors import EXIT_CANCELLED
from mcv.plugins.snap.capture import Cancelled, CaptureFailed, Geometry
from mcv.plugins.snap.desktop import Desktop, detect_desktop
from mcv.plugins.snap.run import take
from support.cli import run_mcv
from support.images import make_screenshot, png_bytes

PNG = png_bytes(make_screenshot(320, 200))

STUB = f"""#!{sys.executable}
import json, os, sys
name = os.path.basename(sys.argv[0])
with open(os.environ["STUB_LOG"], "a") as log:
    parent = open(f"/proc/{{os.getppid()}}/comm").read().strip()
    log.write(json.dumps({{"tool": name, "argv": sys.argv[1:], "parent": parent}}) + "\\n")
plan = json.load(open(os.environ["STUB_PLAN"])).get(name, "png")
if plan == "cancel":
    sys.exit(1)
if plan == "nothing":
    sys.exit(0)
if plan.startswith("stderr:"):  # say this on stderr, then exit 1 (a picker's real messages)
    sys.stderr.write(plan[7:])
    sys.exit(1)
if plan.startswith("print:"):
    sys.stdout.write(plan[6:])
    sys.exit(0)
if sys.argv[-1].endswith(".png"):  # the output file mcv asked for (never anything else)
    with open(sys.argv[-1], "wb") as out:
        out.write(open(os.environ["STUB_PNG"], "rb").read())
"""
TOOLS = ("maim", "scrot", "import", "gnome-screenshot", "spectacle", "grim", "slurp", "screencapture", "xdotool",
         "swaymsg", "hyprctl", "explorer.exe")  # fmt: skip


class Stubs:
    def __init__(self, tmp_path: Path, present=TOOLS) -> None:
        self.bin = tmp_path / "stub-bin"
        self.bin.mkdir()
        for name in present:
            (self.bin / name).write_text(STUB)
            (self.bin / name).chmod(0o755)
        self.log, self.plan_file, self.png = tmp_path / "stub-calls.jsonl", tmp_path / "plan.json", tmp_path / "prepared.png"
        self.png.write_bytes(PNG)
        self.plan({})

    def plan(self, plan: dict[str, str]) -> None:
        self.plan_file.write_text(json.dumps(plan))

    def environ(self, **extra: str) -> dict[str, str]:
        return {"PATH": str(self.bin), "STUB_LOG": str(self.log), "STUB_PLAN": str(self.plan_file),
                "STUB_PNG": str(self.png), **extra}  # fmt: skip

    def calls(self) -> list[dict]:
        return [json.loads(line) for line in self.log.read_text().splitlines()] if self.log.exists() else []


@pytest.fixture
def stubs(tmp_path):
    return Stubs(tmp_path)


X11 = {"DISPLAY": ":9", "XDG_SESSION_TYPE": "x11"}
SWAY = {"WAYLAND_DISPLAY": "wayland-1", "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "sway", "SWAYSOCK": "/run/s"}
HYPR = {"WAYLAND_DISPLAY": "wayland-1", "XDG_SESSION_TYPE": "wayland", "HYPRLAND_INSTANCE_SIGNATURE": "abc"}
KDE = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "KDE"}
GNOME_X11 = {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}


def _out(call) -> str:
    return call["argv"][-1]


@pytest.mark.parametrize(
    "session, mode, tool, argv",
    [
        (X11, "region", "maim", ["--hidecursor", "--select", "{out}"]),
        (X11, "screen", "maim", ["--hidecursor", "{out}"]),
        (X11, "geometry", "maim", ["--hidecursor", "--geometry", "300x200+10+20", "{out}"]),
        (KDE, "region", "spectacle", ["-r", "-b", "-n", "-o", "{out}"]),
        (KDE, "screen", "spectacle", ["-f", "-b", "-n", "-o", "{out}"]),
        (KDE, "window", "spectacle", ["-a", "-b", "-n", "-o", "{out}"]),
        (SWAY, "screen", "grim", ["{out}"]),
        (SWAY, "geometry", "grim", ["-g", "10,20 300x200", "{out}"]),
    ],
)
def test_one_program_captures(stubs, session, mode, tool, argv):
    data = take(detect_desktop(stubs.environ(**session), "linux"), mode, stubs.environ(**session), geometry=Geometry(300, 200, 10, 20))
    assert data == PNG
    (call,) = stubs.calls()
    assert call["tool"] == tool
    assert call["argv"] == [word.replace("{out}", _out(call)) for word in argv]
    assert call["parent"] == "python" or call["parent"].startswith("python")  # mcv itself, not sh
    assert not os.path.exists(_out(call))  # the private temporary folder is gone
    assert not os.path.exists(os.path.dirname(_out(call)))


@pytest.mark.parametrize("tool", ["scrot", "import"])
def test_the_next_x11_tool_when_the_first_is_missing(tmp_path, tool):
    stubs = Stubs(tmp_path, present=(tool,))
    assert take(detect_desktop(stubs.environ(**X11), "linux"), "region", stubs.environ(**X11)) == PNG
    assert [call["tool"] for call in stubs.calls()] == [tool]
    expected = {"scrot": ["--select", "--overwrite"], "import": []}[tool]
    assert stubs.calls()[0]["argv"][:-1] == expected


def test_x11_window_asks_xdotool_which_window(stubs):
    stubs.plan({"xdotool": "print:4194311\n"})
    assert take(detect_desktop(stubs.environ(**X11), "linux"), "window", stubs.environ(**X11)) == PNG
    xdotool, maim = stubs.calls()
    assert xdotool["argv"] == ["getactivewindow"]
    assert maim["argv"][:-1] == ["--hidecursor", "--window", "4194311"]


def test_gnome_on_x11_takes_the_window_with_gnome_screenshot(stubs):
    assert take(detect_desktop(stubs.environ(**GNOME_X11), "linux"), "window", stubs.environ(**GNOME_X11)) == PNG
    (call,) = stubs.calls()
    assert (call["tool"], call["argv"][:-1]) == ("gnome-screenshot", ["-w", "-f"])


def test_slurp_rectangle_becomes_one_grim_argument(stubs):
    stubs.plan({"slurp": "print:12,34 560x78\n"})
    assert take(detect_desktop(stubs.environ(**SWAY), "linux"), "region", stubs.environ(**SWAY)) == PNG
    slurp, grim = stubs.calls()
    assert (slurp["tool"], slurp["argv"]) == ("slurp", [])
    assert grim["argv"] == ["-g", "12,34 560x78", _out(grim)]  # one argument with its space: no shell split it


def test_sway_window_is_the_focused_node(stubs):
    tree = {"type": "root", "nodes": [{"type": "output", "nodes": [
        {"type": "con", "focused": False, "rect": {"x": 0, "y": 0, "width": 10, "height": 10}, "nodes": []},
        {"type": "con", "focused": True, "rect": {"x": 5, "y": 6, "width": 700, "height": 500}, "nodes": []}]}]}  # fmt: skip
    stubs.plan({"swaymsg": "print:" + json.dumps(tree)})
    assert take(detect_desktop(stubs.environ(**SWAY), "linux"), "window", stubs.environ(**SWAY)) == PNG
    swaymsg, grim = stubs.calls()
    assert swaymsg["argv"] == ["-t", "get_tree"]
    assert grim["argv"][:2] == ["-g", "5,6 700x500"]


def test_hyprland_window_is_the_active_window(stubs):
    stubs.plan({"hyprctl": "print:" + json.dumps({"at": [100, 50], "size": [640, 480]})})
    assert take(detect_desktop(stubs.environ(**HYPR), "linux"), "window", stubs.environ(**HYPR)) == PNG
    hyprctl, grim = stubs.calls()
    assert hyprctl["argv"] == ["-j", "activewindow"]
    assert grim["argv"][:2] == ["-g", "100,50 640x480"]


@pytest.mark.parametrize(
    "session, tool, plan",
    [(X11, "maim", "cancel"), (SWAY, "slurp", "cancel"), (KDE, "spectacle", "nothing")],
)
def test_a_cancelled_picker(stubs, session, tool, plan):
    stubs.plan({tool: plan})
    with pytest.raises(Cancelled):
        take(detect_desktop(stubs.environ(**session), "linux"), "region", stubs.environ(**session))
    assert [call["tool"] for call in stubs.calls()] == [tool]  # slurp cancelled: grim never ran


@pytest.mark.parametrize(
    "session, tool, said",
    [
        (X11, "maim", "Failed to detect a compositor, OpenGL hardware-acceleration disabled...\n"
                      "Selection was cancelled by keystroke or right-click.\n"),
        (X11, "scrot", "scrot: Key was pressed, aborting shot\nscrot: no image grabbed: Resource temporarily unavailable\n"),
        (SWAY, "slurp", "selection cancelled\n"),
    ],
)  # fmt: skip
def test_what_pickers_say_on_escape_is_a_cancel(stubs, session, tool, said):
    if tool == "scrot":
        (stubs.bin / "maim").unlink()  # else maim, the first X11 tool, would be the picker
    stubs.plan({tool: "stderr:" + said})
    with pytest.raises(Cancelled):
        take(detect_desktop(stubs.environ(**session), "linux"), "region", stubs.environ(**session))
    assert [call["tool"] for call in stubs.calls()] == [tool]


@pytest.mark.parametrize(
    "session, tool, said, shown",
    [
        (X11, "maim", "Maim encountered an error:\nError: Failed to open X display: :9\n", "Failed to open X display"),
        (SWAY, "slurp", "compositor doesn't support wlr-layer-shell-unstable-v1\n", "wlr-layer-shell"),
    ],
)
def test_a_picker_that_cannot_run_is_an_error_not_a_quiet_cancel(stubs, session, tool, said, shown):
    stubs.plan({tool: "stderr:" + said})
    with pytest.raises(CaptureFailed, match=shown):
        take(detect_desktop(stubs.environ(**session), "linux"), "region", stubs.environ(**session))
    assert "grim" not in [call["tool"] for call in stubs.calls()]


def test_gnome_wayland_without_dbus_fast(stubs, monkeypatch):
    monkeypatch.setitem(sys.modules, "dbus_fast", None)  # `import dbus_fast` raises ImportError
    environ = stubs.environ(WAYLAND_DISPLAY="wayland-0", XDG_SESSION_TYPE="wayland", XDG_CURRENT_DESKTOP="GNOME")
    assert take(detect_desktop(environ, "linux"), "region", environ) == PNG  # gnome-screenshot instead
    assert [(call["tool"], call["argv"][:2]) for call in stubs.calls()] == [("gnome-screenshot", ["-a", "-f"])]
    (stubs.bin / "gnome-screenshot").unlink()
    with pytest.raises(CaptureFailed, match="dbus-fast"):  # nothing else: the portal's own reason, not "install the portal"
        take(detect_desktop(environ, "linux"), "region", environ)


def test_a_failing_screen_capture_is_an_error_not_a_cancel(stubs):
    stubs.plan({"maim": "cancel"})
    with pytest.raises(CaptureFailed, match="maim failed"):
        take(detect_desktop(stubs.environ(**X11), "linux"), "screen", stubs.environ(**X11))


def test_macos_screencapture(stubs):
    desktop = Desktop("darwin", None, ())
    for mode, argv in (("region", ["-i", "-x"]), ("screen", ["-x"]), ("window", ["-i", "-w", "-x"])):
        assert take(desktop, mode, stubs.environ()) == PNG
        assert stubs.calls()[-1]["argv"][:-1] == argv
    stubs.plan({"screencapture": "nothing"})  # Esc: screencapture writes nothing
    with pytest.raises(Cancelled):
        take(desktop, "region", stubs.environ())


class FakeClipboard:
    def __init__(self, changes_after: int | None, image: bytes | None) -> None:
        self.reads, self.changes_after, self._image = 0, changes_after, image

    def sequence(self) -> int:
        self.reads += 1
        return 7 if self.changes_after is None or self.reads <= self.changes_after else 8

    def image(self) -> bytes | None:
        return self._image


def test_windows_screen_clip_reads_the_clipboard(stubs, monkeypatch):
    monkeypatch.setattr("mcv.plugins.snap.windows.POLL", 0.01)
    desktop = Desktop("win32", None, ())
    assert take(desktop, "region", stubs.environ(), clipboard=FakeClipboard(3, PNG)) == PNG
    deadline = time.monotonic() + 10
    while not stubs.calls() and time.monotonic() < deadline:  # the overlay is started, not waited for
        time.sleep(0.05)
    (call,) = stubs.calls()
    assert (call["tool"], call["argv"]) == ("explorer.exe", ["ms-screenclip:"])


def test_windows_screen_clip_without_a_clip_is_a_cancel(stubs, monkeypatch):
    monkeypatch.setattr("mcv.plugins.snap.windows.CLIP_WAIT", 0.3)
    monkeypatch.setattr("mcv.plugins.snap.windows.POLL", 0.01)
    with pytest.raises(Cancelled):
        take(Desktop("win32", None, ()), "region", stubs.environ(), clipboard=FakeClipboard(None, None))


def test_no_tool_says_what_to_install(tmp_path):
    stubs = Stubs(tmp_path, present=())
    with pytest.raises(CaptureFailed) as caught:
        take(detect_desktop(stubs.environ(**SWAY), "linux"), "region", stubs.environ(**SWAY, DBUS_SESSION_BUS_ADDRESS="unix:path=/nonexistent"))
    assert "grim" in caught.value.hint and "slurp" in caught.value.hint


# --- the whole command, with stubs for the tools and the stand-in for Ollama ------------------


@pytest.fixture
def cli_env(stubs, mcv_env, ollama_standin, tmp_path):
    ollama_standin.add_model(DEFAULT_MODEL, answer="An error dialog.")
    path = os.pathsep.join([str(stubs.bin)])
    return {**mcv_env, **stubs.environ(**SWAY), "PATH": path, "OLLAMA_HOST": ollama_standin.url}


def test_snap_with_a_prompt_prints_the_answer(cli_env, stubs, ollama_standin):
    stubs.plan({"slurp": "print:0,0 320x200\n"})
    result = run_mcv(["snap", "--prompt", "what is this error?", "--print"], environ=cli_env)
    assert (result.exit_code, result.stdout) == (0, "An error dialog.\n"), result.stderr
    message = ollama_standin.requests_to("/api/chat")[-1].json["messages"][-1]
    assert message["content"].endswith("what is this error?")
    sent = Image.open(io.BytesIO(base64.b64decode(message["images"][0])))
    assert sent.size == (320, 200)


def test_snap_cancel_exit_code_and_silence(cli_env, stubs, ollama_standin):
    stubs.plan({"slurp": "cancel"})
    result = run_mcv(["snap", "--dialog"], environ=cli_env)
    assert (result.exit_code, result.stdout, result.stderr) == (EXIT_CANCELLED, "", "")
    assert ollama_standin.requests_to("/api/chat") == []
    assert [call["tool"] for call in stubs.calls()] == ["slurp"]  # no dialog tool ran either


def test_snap_usage_errors(cli_env):
    assert run_mcv(["snap", "--screen", "--window"], environ=cli_env).exit_code == 2
    assert run_mcv(["snap", "--print", "--dialog"], environ=cli_env).exit_code == 2
    bad = run_mcv(["snap", "--geometry", "300x0+1+1", "--print"], environ=cli_env)
    assert bad.exit_code == 2 and "rectangle" in bad.stderr


def test_no_capture_tool_is_one_error_dialog_saying_what_to_install(tmp_path, mcv_env):
    stubs = Stubs(tmp_path, present=("zenity",))
    stubs.plan({"zenity": "nothing"})
    environ = {**mcv_env, **stubs.environ(**X11)}
    result = run_mcv(["snap"], environ=environ)
    assert result.exit_code == 2
    assert "no screen capture tool" in result.stderr and "install maim" in result.stderr
    (dialog,) = stubs.calls()
    assert dialog["tool"] == "zenity" and dialog["argv"][0] == "--error"
    assert any("install maim" in word for word in dialog["argv"])


def test_without_a_graphical_session_the_message_reads_as_one_sentence():
    environ = {"PATH": "/usr/bin:/bin"}
    with pytest.raises(CaptureFailed) as caught:
        take(detect_desktop(environ, "linux"), "region", environ)
    assert str(caught.value) == "cannot capture a region: no graphical session (neither WAYLAND_DISPLAY nor DISPLAY is set)"
