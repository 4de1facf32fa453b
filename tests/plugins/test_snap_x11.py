"""`mcv snap` for real on X11 (Xvfb): a known picture on the screen, captured by maim (the
first X11 tool), sent to the Ollama stand-in; the pixels that arrive are the picture's."""

from __future__ import annotations

import base64
import io
import os
import subprocess
import sys
import time

import pytest
from PIL import Image, ImageChops

from mcv.core.config import DEFAULT_MODEL
from mcv.errors import EXIT_CANCELLED
from support.desktop import tools
from support.images import make_screenshot, png_bytes

pytestmark = pytest.mark.skipif(not tools("maim", "xdotool", "display", "xclip"), reason="needs maim, xdotool, ImageMagick, xclip")

WIDTH, HEIGHT = 1280, 800  # the `display` fixture's screen


@pytest.fixture
def known_screen(display, tmp_path):
    """The root window shows a generated screenshot (flat UI colours and text): its image."""
    picture = make_screenshot(WIDTH, HEIGHT)
    path = tmp_path / "known.png"
    path.write_bytes(png_bytes(picture))
    # `display -window root` paints the root window and exits (with status 1, whatever happened).
    subprocess.run(["display", "-window", "root", str(path)], env={**os.environ, "DISPLAY": display}, timeout=30)
    return picture.convert("RGB")


@pytest.fixture
def snap_env(mcv_env, display, ollama_standin, session_bus):
    ollama_standin.add_model(DEFAULT_MODEL, answer="TOTAL 42.00")
    return {**mcv_env, "DISPLAY": display, "OLLAMA_HOST": ollama_standin.url, "DBUS_SESSION_BUS_ADDRESS": session_bus,
            "XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": ""}  # fmt: skip


def sent_image(ollama_standin) -> Image.Image:
    chat = ollama_standin.requests_to("/api/chat")[-1]
    (image,) = chat.json["messages"][-1]["images"]
    data = base64.b64decode(image)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"  # a screenshot of text stays lossless
    return Image.open(io.BytesIO(data)).convert("RGB")


def same_pixels(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and ImageChops.difference(a, b).getbbox() is None


@pytest.fixture
def mcv():
    """Start `python -m mcv ARGS`; whatever is still running at the end is stopped."""
    started: list[subprocess.Popen] = []

    def start(args, environ) -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "-m", "mcv", *args], env=environ, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, 9)
            process.wait(10)


def test_screen_reaches_the_model_pixel_for_pixel(known_screen, snap_env, ollama_standin):
    done = subprocess.run([sys.executable, "-m", "mcv", "snap", "--screen", "--print"], env=snap_env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "TOTAL 42.00\n"
    image = sent_image(ollama_standin)
    assert image.size == (WIDTH, HEIGHT)
    assert same_pixels(image, known_screen)
    # the ocr preset's prompt went with it
    assert "text" in ollama_standin.requests_to("/api/chat")[-1].json["messages"][-1]["content"].lower()


def test_a_rectangle_given_as_geometry(known_screen, snap_env, ollama_standin):
    done = subprocess.run([sys.executable, "-m", "mcv", "snap", "--geometry", "300x200+40+60", "--print"], env=snap_env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert same_pixels(sent_image(ollama_standin), known_screen.crop((40, 60, 340, 260)))


def _wait_for_picker(process: subprocess.Popen, environ) -> None:
    """Until maim's selection (slop) holds the pointer: xdotool cannot see a grab, so wait for the
    maim child, then a little more."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = subprocess.run(["pgrep", "-P", str(process.pid), "-x", "maim"], capture_output=True)
        if children.returncode == 0:
            time.sleep(1.0)
            return
        assert process.poll() is None, process.communicate()
        time.sleep(0.1)
    raise AssertionError("maim never started")


def test_region_picked_with_the_mouse_lands_on_the_clipboard(known_screen, snap_env, ollama_standin, notifications, mcv):
    process = mcv(["snap"], snap_env)  # defaults: the ocr preset, the clipboard plus a notification
    _wait_for_picker(process, snap_env)
    xdotool = ["xdotool"]
    for step in (["mousemove", "40", "60"], ["mousedown", "1"], ["mousemove", "200", "150"], ["mousemove", "340", "260"],
                 ["mouseup", "1"]):  # fmt: skip
        subprocess.run(xdotool + step, env=snap_env, check=True, timeout=10)
        time.sleep(0.15)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    image = sent_image(ollama_standin)
    # slop's rectangle includes both corners it was dragged between
    assert image.size == (301, 201)
    assert same_pixels(image, known_screen.crop((40, 60, 341, 261)))
    copied = subprocess.run(["xclip", "-selection", "clipboard", "-o"], env=snap_env, capture_output=True, timeout=10)
    assert copied.stdout.decode() == "TOTAL 42.00"
    note = notifications.wait_for(lambda server: [n for n in server.notes if "copied" in n.summary])[0]
    assert "TOTAL 42.00" in note.body


def test_escape_in_the_picker_is_a_quiet_cancel(known_screen, snap_env, ollama_standin, notifications, mcv):
    process = mcv(["snap"], snap_env)
    _wait_for_picker(process, snap_env)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:  # again, if the picker had not grabbed the keyboard yet
        subprocess.run(["xdotool", "key", "Escape"], env=snap_env, check=True, timeout=10)
        time.sleep(0.5)
    out, err = process.communicate(timeout=60)
    assert process.returncode == EXIT_CANCELLED
    assert (out, err) == (b"", b"")
    assert ollama_standin.requests_to("/api/chat") == []
    assert [note for note in notifications.notes] == []
