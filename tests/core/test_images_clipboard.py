"""The clipboard as an image source.

X11 is tested for real: an Xvfb server, `xclip -i` owning the clipboard, and
our reader fetching it through `xclip -o` (Debian packages: xvfb, xclip).
Wayland needs a compositor, so `wl-paste` is played by a small script that
records its argv; macOS/Windows go through a stubbed ImageGrab.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import subprocess
import sys
import time

import pytest
from support.images import make_quadrants, png_bytes

from mcv.errors import InputError
from mcv.core.images import clipboard
from mcv.core.images.clipboard import read_clipboard
from mcv.core.images.prepare import prepare
from mcv.core.images.sources import clipboard_source
from mcv.core.images.types import PrepareSettings

LIMIT = 100 * 1024 * 1024
HAVE_X11_TOOLS = bool(shutil.which("Xvfb") and shutil.which("xclip"))
needs_x11 = pytest.mark.skipif(not HAVE_X11_TOOLS, reason="needs Xvfb and xclip (apt-get install xvfb xclip)")


@pytest.fixture(scope="module")
def xvfb():
    """A private X server; yields its DISPLAY value."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "320x240x24"],
        pass_fds=(write_fd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


class XclipOwner:
    """`xclip -i` in the foreground, owning the clipboard until stopped."""

    def __init__(self, display: str, data: bytes, mime: str) -> None:
        env = {**os.environ, "DISPLAY": display}
        self.process = subprocess.Popen(
            ["xclip", "-quiet", "-selection", "clipboard", "-t", mime, "-i"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        self.process.stdin.write(data)
        self.process.stdin.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # wait until it owns the selection
            probe = subprocess.run(
                ["xclip", "-selection", "clipboard", "-t", "TARGETS", "-o"], env=env, capture_output=True, check=False
            )
            if probe.returncode == 0 and mime.encode() in probe.stdout:
                return
            time.sleep(0.05)
        raise RuntimeError("xclip did not take the clipboard")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def x_env(xvfb, monkeypatch):
    monkeypatch.setenv("DISPLAY", xvfb)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return {**os.environ}


@needs_x11
def test_x11_clipboard_image_end_to_end(xvfb, x_env, monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    picture = png_bytes(make_quadrants(200, 100))
    owner = XclipOwner(xvfb, picture, "image/png")
    try:
        assert read_clipboard("clipboard", LIMIT, environ=x_env, platform="linux") == picture
        [image] = prepare(clipboard_source())
    finally:
        owner.stop()
    assert image.label == "clipboard"
    assert (image.width, image.height) == (200, 100)
    assert image.mime == "image/png"  # a flat PNG screenshot stays lossless


@needs_x11
def test_x11_clipboard_with_text_only(xvfb, x_env):
    owner = XclipOwner(xvfb, b"just some words", "UTF8_STRING")
    try:
        with pytest.raises(InputError) as caught:
            read_clipboard("clipboard", LIMIT, environ=x_env, platform="linux")
    finally:
        owner.stop()
    assert str(caught.value) == "clipboard: the clipboard holds no image"
    assert caught.value.hint


@needs_x11
def test_x11_empty_clipboard(xvfb, x_env):
    with pytest.raises(InputError, match=r"^clipboard: no image on the clipboard"):
        read_clipboard("clipboard", LIMIT, environ=x_env, platform="linux")


@needs_x11
def test_x11_clipboard_over_the_cap(xvfb, x_env):
    picture = png_bytes(make_quadrants(200, 100))
    owner = XclipOwner(xvfb, picture, "image/png")
    try:
        with pytest.raises(InputError, match=r"^clipboard: .* over the 100 bytes limit"):
            read_clipboard("clipboard", 100, environ=x_env, platform="linux")
    finally:
        owner.stop()


@needs_x11
def test_x11_copied_file(xvfb, x_env, tmp_path):
    """A file copied in a file manager arrives as text/uri-list."""
    path = tmp_path / "copied shot.png"
    path.write_bytes(png_bytes(make_quadrants(40, 20)))
    uri = "file://" + str(path).replace(" ", "%20")
    owner = XclipOwner(xvfb, f"{uri}\r\n".encode(), "text/uri-list")
    try:
        data = read_clipboard("clipboard", LIMIT, environ=x_env, platform="linux")
    finally:
        owner.stop()
    assert data == path.read_bytes()


def test_missing_tool_and_missing_session(tmp_path):
    empty_path = str(tmp_path)  # a PATH with no tools in it
    with pytest.raises(InputError) as caught:
        read_clipboard("clipboard", LIMIT, environ={"DISPLAY": ":99", "PATH": empty_path}, platform="linux")
    assert str(caught.value) == "clipboard: xclip is not installed"
    assert caught.value.hint == "install the 'xclip' package"
    with pytest.raises(InputError) as caught:
        read_clipboard(
            "clipboard", LIMIT, environ={"WAYLAND_DISPLAY": "wayland-0", "PATH": empty_path}, platform="linux"
        )
    assert str(caught.value) == "clipboard: wl-paste is not installed"
    with pytest.raises(InputError, match=r"^clipboard: no graphical session"):
        read_clipboard("clipboard", LIMIT, environ={"PATH": empty_path}, platform="linux")


def _fake_wl_paste(directory, picture_path, log_path, types="image/png\ntext/plain"):
    """A stand-in `wl-paste` that logs its argv and serves `picture_path` for image/png."""
    script = directory / "wl-paste"
    script.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> "{log_path}"\n'
        'if [ "$1" = "--list-types" ]; then\n'
        f"  printf '{types}\\n'\n"
        "  exit 0\n"
        "fi\n"
        f'exec {shutil.which("cat")} "{picture_path}"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.mark.skipif(os.name != "posix", reason="shell-script stand-in")
def test_wayland_uses_wl_paste_with_argv(tmp_path):
    picture = tmp_path / "pic.png"
    picture.write_bytes(png_bytes(make_quadrants(30, 20)))
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _fake_wl_paste(bin_dir, picture, log)
    environ = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "PATH": str(bin_dir)}
    data = read_clipboard("clipboard", LIMIT, environ=environ, platform="linux")
    assert data == picture.read_bytes()
    assert log.read_text().splitlines() == ["--list-types", "--no-newline --type image/png"]


@pytest.mark.skipif(os.name != "posix", reason="shell-script stand-in")
def test_wayland_prefers_png_and_reports_text_only(tmp_path):
    picture = tmp_path / "pic.jpg"
    picture.write_bytes(b"\xff\xd8\xff")
    log = tmp_path / "argv.log"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    environ = {"WAYLAND_DISPLAY": "wayland-0", "PATH": str(bin_dir)}
    _fake_wl_paste(bin_dir, picture, log, types="text/plain\\nimage/jpeg\\nimage/png")
    read_clipboard("clipboard", LIMIT, environ=environ, platform="linux")
    assert log.read_text().splitlines()[-1] == "--no-newline --type image/png"
    _fake_wl_paste(bin_dir, picture, log, types="text/plain\\nUTF8_STRING")
    with pytest.raises(InputError, match=r"^clipboard: the clipboard holds no image$"):
        read_clipboard("clipboard", LIMIT, environ=environ, platform="linux")


@pytest.mark.parametrize("platform", ["darwin", "win32"])
def test_macos_and_windows_use_imagegrab(monkeypatch, platform, tmp_path):
    from PIL import Image, ImageGrab

    grabbed = {"value": make_quadrants(60, 40)}
    monkeypatch.setattr(ImageGrab, "grabclipboard", lambda: grabbed["value"])
    data = read_clipboard("clipboard", LIMIT, environ={}, platform=platform)
    assert Image.open(io.BytesIO(data)).size == (60, 40)

    copied = tmp_path / "copied.png"
    copied.write_bytes(png_bytes(make_quadrants(10, 10)))
    grabbed["value"] = [str(tmp_path / "notes.txt"), str(copied)]
    assert read_clipboard("clipboard", LIMIT, environ={}, platform=platform) == copied.read_bytes()

    grabbed["value"] = None
    with pytest.raises(InputError, match=r"^clipboard: the clipboard holds no image$"):
        read_clipboard("clipboard", LIMIT, environ={}, platform=platform)


def test_prepare_passes_the_process_environment(monkeypatch, tmp_path):
    """prepare() reads the clipboard with os.environ (the CLI's environment in production)."""
    monkeypatch.setattr(clipboard.sys, "platform", "linux")
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":99")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(InputError, match="xclip is not installed"):
        prepare(clipboard_source(), PrepareSettings())
