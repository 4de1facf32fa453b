"""A recording org.freedesktop.Notifications server on a real D-Bus bus (dbus-fast, in a thread).

    server = NotificationServer(address, capabilities=("body", "body-markup", "actions"))
    server.wait_for(lambda s: s.closed)          # poll what was recorded
    server.notes  -> [Note(id, app_name, replaces_id, icon, summary, body, actions, hints, timeout)]
    server.closed -> [ids mcv closed with CloseNotification]; server.dismissed -> [ids pressed]
    server.press(note_id, "cancel")              # the person pressed a button (ActionInvoked)

It answers like a notification daemon (GetServerInformation, GetCapabilities,
Notify returning ids from 1, CloseNotification emitting NotificationClosed),
so the client code under test runs exactly as on a desktop.
"""

import asyncio
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.service import ServiceInterface, method, signal

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


@dataclass(frozen=True)
class Note:
    id: int
    app_name: str
    replaces_id: int
    icon: str
    summary: str
    body: str
    actions: list[str]
    hints: dict[str, Any]
    timeout: int


class _Interface(ServiceInterface):
    def __init__(self, server: "NotificationServer") -> None:
        super().__init__(NAME)
        self.server = server

    @method()
    def GetCapabilities(self) -> "as":  # noqa: F722, N802 (D-Bus signatures, not Python types)
        return list(self.server.capabilities)

    @method()
    def GetServerInformation(self) -> "ssss":  # noqa: F821, N802
        return ["mcv-test-notifications", "mcv", "1.0", "1.2"]

    @method()
    def Notify(  # noqa: N802
        self,
        app_name: "s",  # noqa: F821
        replaces_id: "u",  # noqa: F821
        icon: "s",  # noqa: F821
        summary: "s",  # noqa: F821
        body: "s",  # noqa: F821
        actions: "as",  # noqa: F722
        hints: "a{sv}",  # noqa: F722
        timeout: "i",  # noqa: F821
    ) -> "u":  # noqa: F821
        with self.server.lock:
            if replaces_id:
                note_id = replaces_id
            else:
                self.server.next_id += 1
                note_id = self.server.next_id
            plain_hints = {key: value.value if isinstance(value, Variant) else value for key, value in hints.items()}
            self.server.notes.append(
                Note(note_id, app_name, replaces_id, icon, summary, body, list(actions), plain_hints, timeout)
            )
        return note_id

    @method()
    def CloseNotification(self, note_id: "u"):  # noqa: F821, N802
        with self.server.lock:
            self.server.closed.append(note_id)
        self.NotificationClosed(note_id, 3)  # 3: closed by a call to CloseNotification

    @signal()
    def NotificationClosed(self, note_id, reason) -> "uu":  # noqa: F821, N802
        return [note_id, reason]

    @signal()
    def ActionInvoked(self, note_id, action_key) -> "us":  # noqa: F821, N802
        return [note_id, action_key]


class NotificationServer:
    def __init__(self, address: str, capabilities=("body", "body-markup", "actions")) -> None:
        self.address = address
        self.capabilities = tuple(capabilities)
        self.notes: list[Note] = []
        self.closed: list[int] = []
        self.dismissed: list[int] = []  # closed by the person (a button pressed)
        self.next_id = 0
        self.lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="notification-server", daemon=True)
        self._thread.start()
        self._bus, self._interface = self._call(self._start())

    def _call(self, coroutine, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    async def _start(self):
        bus = await MessageBus(bus_address=self.address, bus_type=BusType.SESSION).connect()
        interface = _Interface(self)
        bus.export(PATH, interface)
        await bus.request_name(NAME)
        return bus, interface

    def press(self, note_id: int, action_key: str) -> None:
        """The person pressed the button `action_key` on notification `note_id`; as a daemon
        does, the notification then goes away (NotificationClosed, reason 2: dismissed)."""

        async def emit():
            self._interface.ActionInvoked(note_id, action_key)
            with self.lock:
                self.dismissed.append(note_id)
            self._interface.NotificationClosed(note_id, 2)

        self._call(emit())

    def wait_for(self, predicate: Callable[["NotificationServer"], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                value = predicate(self)
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f"timed out waiting; notes={self.notes} closed={self.closed}")

    def close(self) -> None:
        async def stop():
            self._bus.disconnect()

        try:
            self._call(stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
