"""`mcv doctor` on capturing: the tool that works here, or what to install."""

from __future__ import annotations

import json

import pytest

from mcv.plugins.snap.doctor import capture_checks
from support.cli import run_mcv
from support.desktop import tools
from support.net import closed_port


def by_name(checks):
    return {check.name: check for check in checks}


@pytest.mark.skipif(not tools("maim", "xclip"), reason="needs maim and xclip")
def test_x11_with_maim_captures_a_pixel(display, mcv_env, tmp_path):
    environ = {**mcv_env, "DISPLAY": display, "XDG_SESSION_TYPE": "x11", "HOME": str(tmp_path),
               "OLLAMA_HOST": f"127.0.0.1:{closed_port()}"}  # fmt: skip
    result = run_mcv(["doctor", "--no-self-test", "--json"], environ=environ)
    checks = {check["name"]: check for check in json.loads(result.stdout)["checks"]}
    capture = checks["screen capture (mcv snap)"]
    assert capture["status"] == "ok" and capture["detail"].startswith("maim on ")
    assert "snap clipboard" not in checks


def test_a_display_that_does_not_answer_is_a_warning(tmp_path):
    environ = {"PATH": "/usr/bin:/bin", "DISPLAY": ":999", "XDG_SESSION_TYPE": "x11"}
    if not tools("maim"):
        pytest.skip("needs maim")
    check = by_name(capture_checks(environ, "linux"))["screen capture (mcv snap)"]
    assert check.status == "warn" and "cannot capture" in check.detail


def test_wlroots_without_grim_says_what_to_install(tmp_path):
    environ = {"PATH": str(tmp_path), "WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway",
               "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus"}  # fmt: skip
    checks = by_name(capture_checks(environ, "linux"))
    capture = checks["screen capture (mcv snap)"]
    assert capture.status == "warn" and "grim" in capture.hint and "slurp" in capture.hint
    assert checks["snap clipboard"].hint == "install wl-clipboard"


def test_no_display_at_all():
    check = by_name(capture_checks({"PATH": "/usr/bin"}, "linux"))["screen capture (mcv snap)"]
    assert check.status == "warn" and "no graphical session" in check.detail
