"""Desktop test kit: hostile file names, a recording `mcv`, an X display, a D-Bus session bus
with a recording notification server, and Debian's own Python (its gi: GLib, Nautilus).

    folder, paths = hostile_folder(tmp_path)          # files with the names of HOSTILE_NAMES (bytes paths)
    recorder = Recorder.install(tmp_path / "bin $HOME %F \\"q\\"")   # a stub `mcv` that logs its argv
    recorder.wait_calls(1)[0].argv                     # [b"describe", b"--", b"/abs/-rf x.png", ...]
    system_python("import gi; ...", *args)             # /usr/bin/python3 (the venv cannot import gi)

Fixtures: `display` (Xvfb, ":N"), `session_bus` (a private `dbus-daemon --session`, its
address), `notifications` (a recording org.freedesktop.Notifications on that bus).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"

# The names a launcher must pass through untouched: an option look-alike, a newline, a quote
# with a command substitution, bytes that are not UTF-8, runs of spaces, non-ASCII letters,
# a quote and a glob, field codes, a backslash and a tab, backticks and shell operators, a long option.
HOSTILE_NAMES: tuple[bytes, ...] = (
    b"-rf x.png",
    b"new\nline.png",
    b'quo"te $(id).png',
    b"non-utf8-\xff\xfe.png",
    b"  two  spaces .png",
    "ünïcödé 写真.png".encode(),
    b"it's *.png",
    b"#%F %f %%.png",
    b"back\\slash\ttab.png",
    b"tick `id` ;ls|.png",
    b"--print=x.png",
    b"$(touch INJECTED)`touch INJECTED`.png",  # a canary: tests check no INJECTED file appears
)


def png_bytes() -> bytes:
    from support.images import make_photo
    from support.images import png_bytes as encode

    return encode(make_photo(64, 48, seed=3))


def hostile_folder(tmp_path: Path) -> tuple[bytes, list[bytes]]:
    """A folder (its path as bytes) holding one small PNG per hostile name; their absolute paths."""
    folder = os.fsencode(tmp_path / "pictures")
    os.makedirs(folder, exist_ok=True)
    data = png_bytes()
    paths = []
    for name in HOSTILE_NAMES:
        path = os.path.join(folder, name)
        with open(path, "wb") as file:
            file.write(data)
        paths.append(path)
    return folder, paths


@dataclass(frozen=True)
class Call:
    argv: list[bytes]  # the arguments after the program
    cwd: bytes
    environ: dict[str, str]
    files: dict[str, str]  # "--filename=F" -> the text of F when the program ran

    @property
    def args(self) -> list[str]:
        return [os.fsdecode(arg) for arg in self.argv]


@dataclass(frozen=True)
class Recorder:
    """A stand-in `mcv` that appends each run's argv (exact bytes), cwd and environment to a log."""

    program: Path
    log: Path

    @classmethod
    def install(cls, folder: Path, name: str = "mcv", *, stdout: str = "", exit_code: int = 0) -> "Recorder":
        """`folder/name` records its runs; it prints `stdout` and exits with `exit_code` (a stand-in
        zenity: "Copy" and 1 is the extra button). The text of a `--filename=F` file is kept too."""
        folder.mkdir(parents=True, exist_ok=True)
        program, log = folder / name, folder.parent / f"{name}-calls.jsonl"
        program.write_text(
            f"#!{sys.executable}\n"
            "import json, os, sys\n"
            "files = {a: open(a[11:], encoding='utf-8').read() for a in sys.argv[1:] if a.startswith('--filename=')}\n"
            f"with open({str(log)!r}, 'a') as log:\n"
            "    log.write(json.dumps({'argv': [os.fsencode(a).hex() for a in sys.argv[1:]], 'files': files,\n"
            "                          'cwd': os.fsencode(os.getcwd()).hex(), 'env': dict(os.environ)}) + '\\n')\n"
            f"sys.stdout.write({stdout!r})\n"
            f"sys.exit({exit_code})\n"
        )
        program.chmod(0o755)
        return cls(program, log)

    def calls(self) -> list[Call]:
        if not self.log.exists():
            return []
        calls = []
        for line in self.log.read_text().splitlines():
            record = json.loads(line)
            calls.append(Call([bytes.fromhex(a) for a in record["argv"]], bytes.fromhex(record["cwd"]), record["env"],
                              record.get("files", {})))  # fmt: skip
        return calls

    def wait_calls(self, count: int, timeout: float = 10.0) -> list[Call]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            calls = self.calls()
            if len(calls) >= count:
                time.sleep(0.2)  # a launcher that runs it twice would show up now
                return self.calls()
            time.sleep(0.05)
        raise AssertionError(f"the recording mcv ran {len(self.calls())} times, expected {count}")


def system_python(code: str, *args: str | bytes, env: dict[str, str] | None = None, timeout: float = 60,
                  cwd=None) -> subprocess.CompletedProcess:  # fmt: skip
    """Run `code` with Debian's Python (python3-gi and the introspection data live there)."""
    return subprocess.run([SYSTEM_PYTHON, "-c", code, *args], capture_output=True, env=env, timeout=timeout, cwd=cwd)


def has_system_gi(*namespaces: str) -> bool:
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    checks = "".join(f"gi.require_version({name!r}, {version!r}); " for name, version in (n.split("=") for n in namespaces))
    return system_python(f"import gi; {checks}").returncode == 0


def tools(*names: str) -> bool:
    return all(shutil.which(name) for name in names)


@contextmanager
def _server_announcing(argv: list[str], fd_argument: Callable[[int], str]) -> Iterator[str]:
    """A server told to write where to reach it (a display number, a bus address) to a pipe
    (`fd_argument(fd)` ends its argv): that first line, while it runs; stopped afterwards."""
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen([*argv, fd_argument(write_fd)], pass_fds=(write_fd,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as pipe:
            yield pipe.readline().strip()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def display():
    """A private X server (Xvfb) for one test: its DISPLAY."""
    if not tools("Xvfb"):
        pytest.skip("needs Xvfb")
    argv = ["Xvfb", "-nolisten", "tcp", "-screen", "0", "1280x800x24", "-displayfd"]
    with _server_announcing(argv, str) as number:
        yield f":{number}"


@pytest.fixture
def session_bus():
    """A private D-Bus session bus (`dbus-daemon --session`) for one test: its address."""
    if not tools("dbus-daemon"):
        pytest.skip("needs dbus-daemon")
    argv = ["dbus-daemon", "--session", "--nofork", "--nopidfile"]
    with _server_announcing(argv, lambda fd: f"--print-address={fd}") as address:
        yield address


@pytest.fixture
def notifications(session_bus, monkeypatch):
    """A recording notification server on `session_bus`; the bus is this process's session bus too."""
    from support.notification_server import NotificationServer

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    server = NotificationServer(session_bus)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def no_session_bus(monkeypatch, tmp_path):
    """Notifications have nowhere to go (a bus address with nothing behind it)."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", f"unix:path={tmp_path}/no-bus")


# --- GLib's own shell-style quoting and parsing (what Thunar, Nemo and libfm-qt call), on bytes --


def _glib():
    import ctypes
    import ctypes.util

    lib = ctypes.CDLL(ctypes.util.find_library("glib-2.0") or "libglib-2.0.so.0")
    lib.g_shell_quote.restype = ctypes.c_void_p
    lib.g_shell_quote.argtypes = [ctypes.c_char_p]
    lib.g_shell_parse_argv.restype = ctypes.c_int
    lib.g_shell_parse_argv.argtypes = [
        ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.POINTER(ctypes.c_char_p)), ctypes.c_void_p,
    ]  # fmt: skip
    lib.g_free.argtypes = [ctypes.c_void_p]
    lib.g_strfreev.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
    return lib


def glib_shell_quote(word: bytes) -> bytes:
    """g_shell_quote(word): how Thunar and libfm-qt put a path into a command line."""
    import ctypes

    lib = _glib()
    pointer = lib.g_shell_quote(word)
    try:
        return ctypes.string_at(pointer)
    finally:
        lib.g_free(pointer)


def glib_shell_parse_argv(command: bytes) -> list[bytes]:
    """g_shell_parse_argv(command): how g_spawn_command_line_async splits a line (Nemo, libfm-qt)."""
    import ctypes

    lib = _glib()
    argc, argv = ctypes.c_int(), ctypes.POINTER(ctypes.c_char_p)()
    if not lib.g_shell_parse_argv(command, ctypes.byref(argc), ctypes.byref(argv), None):
        raise ValueError(f"GLib cannot parse {command!r}")
    try:
        return [argv[index] for index in range(argc.value)]
    finally:
        lib.g_strfreev(argv)
