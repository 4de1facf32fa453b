"""Many launches, one job: Explorer starts a static verb once per selected file, so 18 photos are
18 `mcv describe --gather -- FILE` processes. The first to bind a per-user, per-action endpoint
leads: it waits until no new file has arrived for QUIET seconds (LIMIT at most), then runs the
one job. The others send it their files and exit 0 once it has acknowledged them.

    words = gather_for(env, "describe", ["C:\\a.png"], {"output": None, "model": None, "host": None})
    # None: handed over to the leader (exit 0); else every file of the job, in arrival order

The endpoint: a named pipe on Windows, an AF_UNIX socket elsewhere, in a private (0700) folder
($XDG_RUNTIME_DIR/mcv, else a temporary folder of the user's own). Binding is the lock: exactly
one process binds; on POSIX, bind, the stale-socket check and the leader's unlink happen under a
lock file, so a socket a crashed leader left behind is replaced by exactly one newcomer. Every
connection proves it knows a per-user key (HMAC challenge both ways, multiprocessing's), so
another user cannot hand a leader paths. Words travel as bytes (os.fsencode on POSIX; UTF-8 with
lone surrogates kept on Windows) separated by NUL, which no argument can contain: any file name
arrives intact. No pickle: a message is only ever bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
import stat
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping, Sequence

from mcv.plugins.desktop.files import anchored

QUIET = 0.4  # seconds without a new file after which the leader stops waiting
LIMIT = 5.0  # ... and the most it waits in all (Explorer starts up to 100 processes)
ATTEMPTS_FOR = 10.0  # seconds a process keeps trying to lead or join before it runs alone
KEY_BYTES = 32
MAX_MESSAGE = 8 << 20  # one launch's words (Explorer: one path; a script: many)
_ACK = b"ok"
_WINDOWS = sys.platform == "win32"


class GatherUnavailable(Exception):
    """No private place for the endpoint: this launch runs on its own."""


@dataclass(frozen=True)
class Endpoint:
    address: str  # a socket path or a pipe name
    family: str  # "AF_UNIX" or "AF_PIPE"
    folder: Path  # the private folder: the key, the lock file
    authkey: bytes


def gather_for(env, command: str, words: Sequence[str], options: Mapping[str, object]) -> list[str] | None:
    """`gather_words` for a desktop command: without a private place to meet, this launch runs
    on its own (one line on stderr says why). None: a leader took the words."""
    try:
        return gather_words(endpoint_for(command, options, env.environ), words, cwd=os.getcwd())
    except (GatherUnavailable, OSError) as err:
        env.stderr.write(f"mcv: not gathering with other launches ({err}): this one runs on its own\n")
        return list(words)


def endpoint_for(command: str, options: Mapping[str, object], environ: Mapping[str, str]) -> Endpoint:
    """The meeting place of launches of `command` with the same `options` (another model or output is
    another job). Raises GatherUnavailable when there is no private folder for it."""
    digest = hashlib.sha256(repr(sorted(options.items())).encode("utf-8", "surrogatepass")).hexdigest()[:10]
    name = f"{command}-{digest}"
    folder = _private_folder(environ)
    authkey = _key(folder / "gather.key")
    if _WINDOWS:
        user = hashlib.sha256(os.fsencode(str(folder))).hexdigest()[:16]  # the folder is the user's own
        return Endpoint(rf"\\.\pipe\mcv-gather-{user}-{name}", "AF_PIPE", folder, authkey)
    path = str(folder / f"{name}.sock")
    if len(os.fsencode(path)) > 100:  # sun_path is ~104-108 bytes
        raise GatherUnavailable(f"the socket path is too long: {path}")
    return Endpoint(path, "AF_UNIX", folder, authkey)


def gather_words(endpoint: Endpoint, words: Sequence[str], *, cwd: str) -> list[str] | None:
    """Lead or join. Returns every word of the job (relative paths made absolute, duplicates
    dropped, in arrival order) when this process leads; None when a leader took the words."""
    mine = [anchored(word, cwd) for word in words]
    give_up = time.monotonic() + ATTEMPTS_FOR
    while True:
        leader = _Leader.bind(endpoint)
        if leader is not None:
            return leader.gather(mine)
        if _hand_over(endpoint, mine):
            return None
        if time.monotonic() > give_up:
            return _unique(mine)  # no leader would take them: this launch runs on its own
        time.sleep(0.05)  # the leader was closing: the next attempt binds, or joins the next one


# --- the leader ------------------------------------------------------------------------------


class _Leader:
    def __init__(self, endpoint: Endpoint, listener) -> None:
        self.endpoint, self.listener = endpoint, listener
        self.lock = threading.Lock()
        self.words: list[str] = []
        self.last = time.monotonic()
        self.closed = False

    @classmethod
    def bind(cls, endpoint: Endpoint) -> "_Leader | None":
        """Bind the endpoint (this process leads), or None: a live leader holds it."""
        from multiprocessing.connection import Listener

        with _bind_lock(endpoint):
            try:
                listener = Listener(endpoint.address, endpoint.family, authkey=endpoint.authkey)
            except OSError:
                if _WINDOWS:  # FILE_FLAG_FIRST_PIPE_INSTANCE: another process has the pipe
                    return None
                if not os.path.exists(endpoint.address) or _alive(endpoint.address):
                    return None  # a live leader (or a failure that the next attempt meets again)
                os.unlink(endpoint.address)  # a crashed leader's socket: nobody listens on it
                listener = Listener(endpoint.address, endpoint.family, authkey=endpoint.authkey)
        return cls(endpoint, listener)

    def gather(self, mine: Sequence[str]) -> list[str]:
        self.words.extend(mine)
        started = self.last = time.monotonic()
        thread = threading.Thread(target=self._accept_all, name="mcv-gather", daemon=True)
        thread.start()
        while True:
            with self.lock:
                now = time.monotonic()
                if now - self.last >= QUIET or now - started >= LIMIT:
                    self.closed = True  # from here on no launch is acknowledged: each one retries
                    words = list(self.words)
                    break
            time.sleep(0.02)
        self._close()
        thread.join(2.0)
        return _unique(words)

    def _accept_all(self) -> None:
        from multiprocessing.connection import AuthenticationError

        while not self.closed:
            try:
                connection = self.listener.accept()  # with the key's challenge, both ways
            except (AuthenticationError, EOFError, OSError):
                continue  # a stranger, a probe, or the wake-up at the end
            with connection:
                try:
                    if not connection.poll(2.0):
                        continue
                    words = _decode(connection.recv_bytes(MAX_MESSAGE))
                    with self.lock:
                        if self.closed:
                            continue  # not acknowledged: that launch tries again
                        connection.send_bytes(_ACK)  # first: a launch that did not hear it runs its files again
                        self.words.extend(words)
                        self.last = time.monotonic()
                except (EOFError, OSError, UnicodeDecodeError):
                    continue

    def _close(self) -> None:
        from multiprocessing.connection import Client

        with contextlib.suppress(OSError, EOFError):
            Client(self.endpoint.address, self.endpoint.family).close()  # wakes accept() up
        with _bind_lock(self.endpoint):  # the socket file is unlinked before anyone binds anew
            self.listener.close()


# --- the others ------------------------------------------------------------------------------


def _hand_over(endpoint: Endpoint, words: Sequence[str]) -> bool:
    """Give `words` to the leader; True once it acknowledged them."""
    from multiprocessing.connection import AuthenticationError, Client

    try:
        with Client(endpoint.address, endpoint.family, authkey=endpoint.authkey) as connection:
            connection.send_bytes(_encode(words))
            return connection.poll(5.0) and connection.recv_bytes(16) == _ACK
    except (AuthenticationError, EOFError, OSError):
        return False


def _alive(path: str) -> bool:
    """Whether a process listens on the socket at `path` (a refused connection: a stale file)."""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(path)
    except (ConnectionRefusedError, FileNotFoundError):
        return False
    except OSError:
        return True  # busy (a full backlog) or slow: someone is there
    finally:
        probe.close()
    return True


@contextlib.contextmanager
def _bind_lock(endpoint: Endpoint) -> Iterator[None]:
    if _WINDOWS:  # a pipe cannot go stale, and FILE_FLAG_FIRST_PIPE_INSTANCE makes bind exclusive
        yield
        return
    import fcntl

    descriptor = os.open(endpoint.folder / "gather.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)  # releases the lock


# --- the wire, the key, the folder ---------------------------------------------------------


def _encode(words: Sequence[str]) -> bytes:
    return b"\0".join(_to_bytes(word) for word in words)


def _decode(data: bytes) -> list[str]:
    return [_from_bytes(part) for part in data.split(b"\0")] if data else []


def _to_bytes(word: str) -> bytes:
    return word.encode("utf-8", "surrogatepass") if _WINDOWS else os.fsencode(word)


def _from_bytes(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass") if _WINDOWS else os.fsdecode(data)


def _unique(words: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(words))


def _private_folder(environ: Mapping[str, str]) -> Path:
    if _WINDOWS:  # the user's own temporary folder (its ACL admits only them)
        folder = Path(tempfile.gettempdir()) / "mcv-gather"
        folder.mkdir(exist_ok=True)
        return folder
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime) and os.path.isdir(runtime):
        folder = Path(runtime) / "mcv"
    else:
        folder = Path(tempfile.gettempdir()) / f"mcv-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        folder.mkdir(mode=0o700)
    info = os.lstat(folder)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise GatherUnavailable(f"{folder} is not a folder of this user's own")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(folder, 0o700)  # ours: made private again
    return folder


def _key(path: Path) -> bytes:
    """The user's gathering key: made once (exclusively), then read by every launch."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
    for _ in range(50):  # another launch may be writing it right now
        key = path.read_bytes()
        if len(key) == KEY_BYTES:
            return key
        time.sleep(0.02)
    from mcv.core.atomic import write_atomically

    write_atomically(path, secrets.token_bytes(KEY_BYTES))  # a crash left it short: made anew (private folder)
    return path.read_bytes()
