"""/copy: text onto the clipboard, for real under Xvfb with xclip; the other tools by argv."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess

import pytest

from mcv.core.text_clipboard import copy_text
from mcv.errors import InputError

needs_x11 = pytest.mark.skipif(not (shutil.which("Xvfb") and shutil.which("xclip")), reason="needs Xvfb and xclip")


@pytest.fixture
def display():
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_fd), "-nolisten", "tcp", "-screen", "0", "320x240x24"],
        pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            number = pipe.readline().strip()
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@needs_x11
def test_x11_copy_then_paste_back(display):
    environ = {"PATH": os.environ["PATH"], "DISPLAY": display}
    text = "Total: **42,17 €**\n- ünïcode ✓\n$(rm -rf ~) `not run`"
    assert copy_text(text, environ=environ, platform="linux") == "xclip"
    pasted = subprocess.run(["xclip", "-selection", "clipboard", "-o"], env=environ, capture_output=True, timeout=10)
    assert pasted.stdout.decode("utf-8") == text


def fake_tool(folder, name):
    log = folder / f"{name}.log"
    script = folder / name
    script.write_text(f'#!/bin/sh\n: > {log}\nfor a in "$@"; do echo "$a" >> {log}; done\ncat >> {log}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return log


def test_wayland_and_macos_tools_get_argv_and_stdin(tmp_path):
    path = f"{tmp_path}{os.pathsep}/usr/bin{os.pathsep}/bin"
    wl = fake_tool(tmp_path, "wl-copy")
    copy_text("hi; there", environ={"PATH": path, "WAYLAND_DISPLAY": "wayland-0"}, platform="linux")
    assert wl.read_text() == "--type\ntext/plain;charset=utf-8\nhi; there"
    mac = fake_tool(tmp_path, "pbcopy")
    copy_text("é", environ={"PATH": path}, platform="darwin")
    assert mac.read_text() == "é"


def test_no_session_or_no_tool(tmp_path):
    with pytest.raises(InputError, match="no graphical session"):
        copy_text("x", environ={"PATH": str(tmp_path)}, platform="linux")
    with pytest.raises(InputError, match="xclip is not installed"):
        copy_text("x", environ={"PATH": str(tmp_path), "DISPLAY": ":99"}, platform="linux")
