"""The xdg-desktop-portal Screenshot path on a real (private) session bus, with a stand-in portal
that answers like xdg-desktop-portal: a Request handle, then a Response signal on it."""

from __future__ import annotations

import asyncio
import threading

import pytest

from mcv.core.config import DEFAULT_MODEL
from mcv.errors import EXIT_CANCELLED
from mcv.plugins.snap.capture import Cancelled
from mcv.plugins.snap.desktop import detect_desktop
from mcv.plugins.snap.portal import portal_version
from mcv.plugins.snap.run import take
from support.cli import run_mcv
from support.images import make_screenshot, png_bytes

PNG = png_bytes(make_screenshot(200, 120))
GNOME_WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "GNOME"}


class StandinPortal:
    """org.freedesktop.portal.Desktop with the Screenshot interface (version 2)."""

    def __init__(self, address: str, pictures, answer: int = 0) -> None:
        self.address, self.pictures, self.answer = address, pictures, answer
        self.calls: list[dict] = []
        self.saved: list = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._bus = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)

    async def _start(self):
        from dbus_fast import BusType
        from dbus_fast.aio import MessageBus

        bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
        bus.add_message_handler(self._handle)
        await bus.request_name("org.freedesktop.portal.Desktop")
        return bus

    def _handle(self, message):
        from dbus_fast import Message, MessageType, Variant

        if message.message_type != MessageType.METHOD_CALL or message.path != "/org/freedesktop/portal/desktop":
            return None
        if message.interface == "org.freedesktop.DBus.Properties" and message.member == "Get":
            return Message.new_method_return(message, "v", [Variant("u", 2)])
        if message.interface != "org.freedesktop.portal.Screenshot" or message.member != "Screenshot":
            return None
        parent, options = message.body
        self.calls.append({"parent": parent, **{key: value.value for key, value in options.items()}})
        sender = message.sender.lstrip(":").replace(".", "_")
        handle = f"/org/freedesktop/portal/desktop/request/{sender}/{options['handle_token'].value}"
        results = {}
        if self.answer == 0:
            saved = self.pictures / f"Screenshot {len(self.saved) + 1}.png"
            saved.write_bytes(PNG)
            self.saved.append(saved)
            results["uri"] = Variant("s", saved.as_uri())
        signal = Message.new_signal(handle, "org.freedesktop.portal.Request", "Response", "ua{sv}", [self.answer, results])
        self._loop.call_later(0.05, self._bus.send, signal)
        return Message.new_method_return(message, "o", [handle])

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._bus.disconnect)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


@pytest.fixture
def portal(session_bus, tmp_path):
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    standin = StandinPortal(session_bus, pictures)
    yield standin
    standin.close()


def environ(session_bus, **extra):
    return {**GNOME_WAYLAND, "PATH": "/nonexistent", "DBUS_SESSION_BUS_ADDRESS": session_bus, **extra}


@pytest.mark.parametrize("mode, interactive", [("region", True), ("screen", False), ("window", True)])
def test_portal_screenshot(portal, session_bus, mode, interactive):
    env = environ(session_bus)
    assert take(detect_desktop(env, "linux"), mode, env) == PNG
    (call,) = portal.calls
    assert call["interactive"] is interactive and call["modal"] is True and call["parent"] == ""
    assert call["handle_token"].startswith("mcv_")
    assert not portal.saved[0].exists()  # moved into mcv's temporary folder, and removed with it


def test_portal_cancel(portal, session_bus):
    portal.answer = 1
    env = environ(session_bus)
    with pytest.raises(Cancelled):
        take(detect_desktop(env, "linux"), "region", env)


def test_no_portal_on_the_bus_says_what_to_install(session_bus):
    env = environ(session_bus)
    from mcv.plugins.snap.capture import CaptureFailed

    with pytest.raises(CaptureFailed) as caught:
        take(detect_desktop(env, "linux"), "region", env)
    assert "xdg-desktop-portal-gnome" in caught.value.hint


def test_portal_version_for_doctor(portal, session_bus):
    assert portal_version(environ(session_bus)) == "2"


def test_snap_through_the_portal_end_to_end(portal, session_bus, mcv_env, ollama_standin):
    ollama_standin.add_model(DEFAULT_MODEL, answer="Hello")
    env = {**mcv_env, **environ(session_bus), "OLLAMA_HOST": ollama_standin.url}
    result = run_mcv(["snap", "--print"], environ=env)
    assert (result.exit_code, result.stdout) == (0, "Hello\n"), result.stderr
    portal.answer = 1
    cancelled = run_mcv(["snap", "--notify"], environ=env)
    assert (cancelled.exit_code, cancelled.stdout, cancelled.stderr) == (EXIT_CANCELLED, "", "")
