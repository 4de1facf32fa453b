"""The xdg-desktop-portal Screenshot call, over the session bus with dbus-fast (which
desktop-notifier already brings).

    Screenshot(parent_window "", {handle_token, interactive, modal}) -> request handle
    ... then the Request object emits Response(u code, a{sv} results): 0 with results["uri"],
    1 cancelled by the person, 2 failed.

The Response match is added before the call, on the handle the portal will use
(/org/freedesktop/portal/desktop/request/SENDER/TOKEN), so a fast answer is not
missed. The portal saves the picture where it likes (often ~/Pictures): it is
moved into mcv's private temporary folder, so it is removed with it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from pathlib import Path
from typing import Mapping
from urllib.parse import unquote, urlparse

from mcv.plugins.snap.capture import PICKER_TIMEOUT, Cancelled, CaptureFailed, PortalUnavailable

BUS_NAME = "org.freedesktop.portal.Desktop"
OBJECT_PATH = "/org/freedesktop/portal/desktop"
SCREENSHOT = "org.freedesktop.portal.Screenshot"
REQUEST = "org.freedesktop.portal.Request"
CALL_TIMEOUT = 10.0


def screenshot(*, interactive: bool, into: Path, environ: Mapping[str, str]) -> None:
    """Ask the portal for a screenshot and move it to `into`; Cancelled / CaptureFailed."""
    uri = asyncio.run(_screenshot(interactive, environ))
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise CaptureFailed(f"the screenshot portal answered with {uri[:80]!r}, not a file")
    source = unquote(parsed.path)
    try:
        shutil.move(source, into)
    except OSError as err:
        raise CaptureFailed(f"cannot read the portal's screenshot {source}: {err.strerror or err}") from None


async def _screenshot(interactive: bool, environ: Mapping[str, str]) -> str:
    try:
        from dbus_fast import Message, MessageType, Variant
        from dbus_fast.aio import MessageBus
    except ImportError:
        raise CaptureFailed("the screenshot portal needs the dbus-fast package", hint="pip install dbus-fast") from None
    address = environ.get("DBUS_SESSION_BUS_ADDRESS")
    try:
        bus = await asyncio.wait_for(MessageBus(bus_address=address).connect(), CALL_TIMEOUT)
    except Exception as err:  # no bus, refused, bad address
        raise PortalUnavailable(f"no D-Bus session bus to reach the screenshot portal ({err})") from None
    try:
        token = "mcv_" + secrets.token_hex(8)
        sender = bus.unique_name.lstrip(":").replace(".", "_")
        handle = f"{OBJECT_PATH}/request/{sender}/{token}"
        answer: asyncio.Future = asyncio.get_running_loop().create_future()

        def on_message(message) -> None:
            if (
                message.message_type == MessageType.SIGNAL
                and message.path == handle
                and message.interface == REQUEST
                and message.member == "Response"
                and not answer.done()
            ):
                answer.set_result(message.body)

        bus.add_message_handler(on_message)
        rule = f"type='signal',interface='{REQUEST}',member='Response',path='{handle}'"
        await _call(bus, Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                                 interface="org.freedesktop.DBus", member="AddMatch", signature="s", body=[rule]))  # fmt: skip
        options = {"handle_token": Variant("s", token), "modal": Variant("b", True), "interactive": Variant("b", interactive)}
        await _call(bus, Message(destination=BUS_NAME, path=OBJECT_PATH, interface=SCREENSHOT, member="Screenshot",
                                 signature="sa{sv}", body=["", options]))  # fmt: skip
        try:
            code, results = await asyncio.wait_for(answer, PICKER_TIMEOUT)
        except asyncio.TimeoutError:
            raise Cancelled() from None
    finally:
        bus.disconnect()
    if code == 1:
        raise Cancelled()
    uri = results.get("uri")
    uri = uri.value if hasattr(uri, "value") else uri
    if code != 0 or not uri:
        raise CaptureFailed(f"the screenshot portal failed (response {code})")
    return uri


async def _call(bus, message):
    from dbus_fast import MessageType

    try:
        reply = await asyncio.wait_for(bus.call(message), CALL_TIMEOUT)
    except asyncio.TimeoutError:
        raise CaptureFailed(f"{message.destination} did not answer within {CALL_TIMEOUT:.0f} s") from None
    if reply.message_type == MessageType.ERROR:
        detail = reply.body[0] if reply.body else reply.error_name
        if reply.error_name in ("org.freedesktop.DBus.Error.ServiceUnknown", "org.freedesktop.DBus.Error.UnknownInterface",
                                "org.freedesktop.DBus.Error.UnknownMethod", "org.freedesktop.DBus.Error.NameHasNoOwner"):  # fmt: skip
            raise PortalUnavailable(
                f"no screenshot portal on the session bus ({detail})",
                hint="install xdg-desktop-portal and your desktop's backend (xdg-desktop-portal-gnome or -kde)",
            )
        raise CaptureFailed(f"the screenshot portal refused: {detail}")
    return reply


async def _has_portal(environ: Mapping[str, str]) -> str | None:
    """The Screenshot interface's version, read without taking a picture; None when there is no portal."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await asyncio.wait_for(MessageBus(bus_address=environ.get("DBUS_SESSION_BUS_ADDRESS")).connect(), CALL_TIMEOUT)
    try:
        reply = await asyncio.wait_for(
            bus.call(Message(destination=BUS_NAME, path=OBJECT_PATH, interface="org.freedesktop.DBus.Properties",
                             member="Get", signature="ss", body=[SCREENSHOT, "version"])),  # fmt: skip
            CALL_TIMEOUT,
        )
    finally:
        bus.disconnect()
    if reply.message_type != MessageType.METHOD_RETURN:
        return None
    return str(reply.body[0].value)


def portal_version(environ: Mapping[str, str]) -> str | None:
    """`mcv doctor`: the Screenshot portal's version, or None (no bus, no portal, no dbus-fast)."""
    if not environ.get("DBUS_SESSION_BUS_ADDRESS") and not os.path.exists(f"/run/user/{getattr(os, 'getuid', lambda: 0)()}/bus"):
        return None
    try:
        return asyncio.run(_has_portal(environ))
    except Exception:
        return None
