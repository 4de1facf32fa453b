"""The real thing: Thunar under Xvfb on a private session bus. `mcv plugins install thunar`, then
a right-click on a photo with a hostile name (xdotool), MiniCPM-V > Describe image from the
menu, and the recording mcv gets exactly that file. Uninstall gives back uca.xml byte for byte."""

from __future__ import annotations

import os
import subprocess
import time

import pytest
from support.cli import run_mcv
from support.desktop import Recorder, tools

pytestmark = pytest.mark.skipif(
    not tools("thunar", "Xvfb", "xdotool", "import", "dbus-daemon"), reason="needs thunar, xvfb, xdotool, imagemagick, dbus"
)

NAME = b'quo"te $(touch INJECTED) -rf \xff.png'
THEIRS = """<?xml version="1.0" encoding="UTF-8"?>
<actions>
<action>
	<icon>utilities-terminal</icon>
	<name>Open Terminal Here</name>
	<submenu></submenu>
	<unique-id>1700000000000001-1</unique-id>
	<command>exo-open --working-directory %f --launch TerminalEmulator</command>
	<description>Example for a custom action</description>
	<range></range>
	<patterns>*</patterns>
	<startup-notify/>
	<directories/>
</action>
</actions>
"""


def x(display: str, *args: str, timeout: float = 30) -> str:
    done = subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "DISPLAY": display})  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def selection_box(display: str, tmp_path) -> tuple[int, int]:
    """Where the selected file's highlighted label is on the screen (its centre)."""
    from PIL import Image

    shot = tmp_path / "screen.png"
    subprocess.run(["import", "-window", "root", str(shot)], check=True, env={**os.environ, "DISPLAY": display})
    image = Image.open(shot).convert("RGB")
    pixels = image.load()
    found = [(px, py) for py in range(110, image.height - 40) for px in range(175, image.width, 2)
             if pixels[px, py][2] > 180 and pixels[px, py][0] < 90]  # fmt: skip  (the selection's blue)
    assert found, "no selected file on the screen"
    xs, ys = [p[0] for p in found], [p[1] for p in found]
    return (min(xs) + max(xs)) // 2, (min(ys) + max(ys)) // 2


def test_right_click_in_thunar_runs_mcv_on_exactly_that_file(tmp_path, mcv_env, display, session_bus):
    home = tmp_path / "home"
    pictures = home / "Pictures"
    pictures.mkdir(parents=True)
    from support.images import make_photo

    photo = os.path.join(os.fsencode(pictures), NAME)
    make_photo(320, 240, seed=5).save(photo, format="PNG")
    uca = home / ".config" / "Thunar" / "uca.xml"
    uca.parent.mkdir(parents=True)
    uca.write_text(THEIRS, encoding="utf-8")  # the person's own action, as Thunar writes it
    recorder = Recorder.install(tmp_path / "mcv bin")
    mcv_env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_DATA_HOME=str(home / ".local/share"),
                   XDG_CACHE_HOME=str(home / ".cache"), DISPLAY=display, DBUS_SESSION_BUS_ADDRESS=session_bus,
                   NO_AT_BRIDGE="1", XDG_CURRENT_DESKTOP="XFCE")  # fmt: skip
    installed = run_mcv(["plugins", "install", "--mcv-path", str(recorder.program), "thunar"], environ=mcv_env)
    assert installed.exit_code == 0, installed.stderr

    thunar = subprocess.Popen(["thunar", str(pictures)], env=mcv_env, cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        window = x(display, "search", "--sync", "--onlyvisible", "--class", "Thunar").split()[0]
        x(display, "windowmove", window, "0", "0", "windowsize", window, "1000", "680")
        time.sleep(2)
        x(display, "mousemove", "600", "400", "click", "1", "key", "ctrl+a")  # select the photo
        time.sleep(0.5)
        left, top = selection_box(display, tmp_path)
        x(display, "mousemove", str(left), str(top), "click", "3")  # right-click on it
        time.sleep(1)
        # Thunar puts custom actions just above "Properties…", the last item: MiniCPM-V > Describe image.
        x(display, "key", "Up", "Up", "Right")
        time.sleep(0.5)
        subprocess.run(["import", "-window", "root", str(tmp_path / "menu.png")], env={**os.environ, "DISPLAY": display})
        x(display, "key", "Return")
        (call,) = recorder.wait_calls(1)
    finally:
        thunar.terminate()
        thunar.wait(10)
    assert call.argv == [b"describe", b"--", photo]
    assert not (tmp_path / "INJECTED").exists() and not (pictures / "INJECTED").exists()

    removed = run_mcv(["plugins", "uninstall"], environ=mcv_env)
    assert removed.exit_code == 0, removed.stderr
    assert uca.read_text(encoding="utf-8") == THEIRS
