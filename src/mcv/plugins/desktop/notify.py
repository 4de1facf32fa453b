"""Desktop notifications through desktop-notifier (D-Bus on Linux, native on Windows and macOS).

desktop-notifier is asyncio: its client runs on a loop of its own in a
daemon thread, so a pressed "Cancel" (a D-Bus signal) is heard while the
job waits for the model in other threads. A notifier that cannot reach a
notification server is simply not `available`; a job then shows everything
in dialogs. Nothing here raises.

Progress notifications never expire (timeout 0) and are closed when the
job ends; desktop-notifier has no "replaces_id", so the result is a new
notification sent after the progress one is closed.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import Any, Callable, Coroutine

from mcv.plugins.desktop import markup

APP_NAME = "mcv"
APP_ICON = "image-x-generic"  # a freedesktop icon name (desktop-notifier's default is a Python logo)
CALL_TIMEOUT = 5.0  # seconds for one call to the notification server
CANCEL_ACTION = "cancel"  # the D-Bus action key of the progress notification's button


class Notifier:
    def __init__(self) -> None:
        self.available = False  # a notification server answered
        self.actions = False  # it shows buttons (a Cancel on the progress notification)
        self.body_markup = False  # it reads bodies as markup (then they are escaped)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Any = None

    @classmethod
    def start(cls) -> "Notifier":
        """A notifier connected to the desktop's notification server, or an unavailable one."""
        notifier = cls()
        try:
            notifier._connect()
        except Exception:  # no session bus, no server, no backend for this platform: no notifications
            notifier.stop()
            notifier.available = False
        return notifier

    def _connect(self) -> None:
        from desktop_notifier import Capability, DesktopNotifier, Icon
        from desktop_notifier.main import get_backend_class

        # desktop-notifier logs a warning (with a traceback) for every notification that fails;
        # the probe below already decided, so those would only be noise on stderr.
        logging.getLogger("desktop_notifier").addHandler(logging.NullHandler())
        logging.getLogger("desktop_notifier").propagate = False
        if get_backend_class().__name__ == "DummyNotificationCenter":
            return  # e.g. macOS outside an app bundle: notifications would vanish
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="mcv-notifier", daemon=True)
        self._thread.start()
        self._client = DesktopNotifier(app_name=APP_NAME, app_icon=Icon(name=APP_ICON))
        capabilities = self._call(self._client.get_capabilities())
        self.available = True
        self.actions = Capability.BUTTONS in capabilities
        if sys.platform.startswith("linux"):
            self.body_markup = "body-markup" in self._call(_server_capabilities())

    def _call(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(CALL_TIMEOUT)

    def body(self, text: str) -> str:
        """`text` as this server wants a body: escaped where it reads markup."""
        return markup.pango(text) if self.body_markup else markup.plain(text)

    def progress(self, title: str, text: str, on_cancel: Callable[[], None] | None) -> str | None:
        """A notification that stays until `close`; with a Cancel button where the server has actions."""
        from desktop_notifier import Button

        buttons = []
        if on_cancel is not None and self.actions:
            buttons.append(Button(title="Cancel", on_pressed=on_cancel, identifier=CANCEL_ACTION))
        return self._send(title, text, buttons=buttons, timeout=0)

    def show(self, title: str, text: str) -> bool:
        """A notification with the server's usual timeout; False when it could not be shown."""
        return self._send(title, text, buttons=(), timeout=-1) is not None

    def close(self, identifier: str | None) -> None:
        if identifier is None or not self.available:
            return
        try:
            self._call(self._client.clear(identifier))
        except Exception:
            pass  # already gone (the user closed it)

    def stop(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(1.0)

    def _send(self, title: str, text: str, *, buttons, timeout: int) -> str | None:
        if not self.available:
            return None
        try:
            return self._call(
                self._client.send(markup.plain(title), self.body(text), buttons=tuple(buttons), timeout=timeout)
            )
        except Exception:
            return None


async def _server_capabilities() -> list[str]:
    """What the freedesktop notification server says it supports (desktop-notifier keeps "body-markup" to itself)."""
    from dbus_fast import Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = await MessageBus().connect()
    try:
        reply = await bus.call(
            Message(
                destination="org.freedesktop.Notifications",
                path="/org/freedesktop/Notifications",
                interface="org.freedesktop.Notifications",
                member="GetCapabilities",
            )
        )
        return list(reply.body[0]) if reply.message_type == MessageType.METHOD_RETURN else []
    finally:
        bus.disconnect()
