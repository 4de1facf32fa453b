"""P1: process start -> first byte of /api/chat, `mcv ask` vs `llm` + `llm-ollama`.

Both CLIs ask the same question about the same 1600x1200 photo of the same
Ollama stand-in (tests/support/ollama_standin), with the same environment. A
small TCP relay in front of the stand-in timestamps the first byte of every
request, so nothing in either client is instrumented.

- target row: time to the first byte of the /api/chat request, what the user
  waits for before the model can start (imports, config, checks such as
  /api/show, image preparation, request building). Target: <= 0.35x llm's
  and <= 250 ms.
- informative row: time to the first request byte of any kind (how early a
  client reaches the daemon, e.g. a version or capability check).

`llm` is the best short alternative a user has for "ask a local Ollama vision
model about a photo" from a shell. It and `llm-ollama` are installed into
bench/.work/llm-venv on first use; one warm-up run each (page cache, .pyc
files, llm-ollama's model cache) precedes the interleaved timed runs.

Both run with bytecode caching, as on a user's machine: the environment may
set PYTHONDONTWRITEBYTECODE (this sandbox does), which would leave llm with
the .pyc files pip compiled at install and make mcv (an editable install)
compile its sources on every start. PYTHONPYCACHEPREFIX points both at one
cache under bench/.work, so the working tree gets no __pycache__ folders.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
LLM_VENV = WORK / "llm-venv"
TARGET_RATIO = 0.35
TARGET_MS = 250.0


class FirstByteRelay:
    """Forwards 127.0.0.1:<port> to the stand-in and notes when each request's first bytes arrive."""

    METHODS = (b"GET ", b"HEAD ", b"POST ", b"DELETE ")

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.events: list[tuple[float, bytes]] = []  # (perf_counter, first line)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            pump = threading.Thread(target=self._pipe, args=(server, client), daemon=True)
            pump.start()
            while True:
                data = client.recv(65536)
                if not data:
                    break
                # Keep-alive connections carry several requests; a request
                # starts a read because clients wait for each response.
                if data.startswith(self.METHODS):
                    with self._lock:
                        self.events.append((time.perf_counter(), data.split(b"\r\n", 1)[0]))
                server.sendall(data)
            try:
                server.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            pump.join(timeout=30)

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass

    def take(self) -> list[tuple[float, bytes]]:
        with self._lock:
            events, self.events = self.events, []
        return events

    def close(self) -> None:
        self._listener.close()


def ensure_llm() -> Path:
    llm = LLM_VENV / "bin" / "llm"
    if not llm.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LLM_VENV)], check=True)
        subprocess.run(
            [str(LLM_VENV / "bin" / "pip"), "install", "-q", "llm", "llm-ollama"], check=True
        )
    return llm


def mcv_command() -> list[str]:
    # The installed console script, as a user runs it (no pyenv shim in between).
    script = Path(sys.executable).with_name("mcv")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mcv"]


def time_one(command: list[str], env: dict[str, str], relay: FirstByteRelay) -> tuple[float, float]:
    """(ms to the first request byte, ms to the first /api/chat byte) of one run of `command`."""
    relay.take()
    started = time.perf_counter()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    events = relay.take()
    if not events:
        raise RuntimeError(f"{command[0]} sent no request")
    first_any = min(t for t, _ in events) - started
    chats = [t for t, line in events if line.startswith(b"POST /api/chat")]
    if not chats:
        raise RuntimeError(f"{command[0]} sent no /api/chat request: {[line for _, line in events]}")
    return first_any * 1000, (min(chats) - started) * 1000


def start_standin():
    """The stand-in with a vision model, and a relay in front of it."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.ollama_standin import OllamaStandin

    standin = OllamaStandin()
    standin.fail_on_warnings = False
    standin.add_model("minicpm-v", answer="A photo.")
    host, port = standin.host.split(":")
    return standin, FirstByteRelay((host, int(port)))


def commands(llm: Path, photo: Path) -> tuple[list[str], list[str]]:
    """(mcv ask, llm) asking the same question about the same photo."""
    ours = [*mcv_command(), "ask", "--backend", "auto", str(photo), "what is this"]
    peer = [str(llm), "-m", "ollama/minicpm-v", "-a", str(photo), "what is this", "--no-log"]
    return ours, peer


def client_env(relay: FirstByteRelay) -> dict[str, str]:
    """The same environment for both: no user config, fresh homes, the relay as
    OLLAMA_HOST, and bytecode caching on (see the module docstring)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MCV_", "OLLAMA_", "LLM_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        OLLAMA_HOST=f"127.0.0.1:{relay.port}",
        MCV_CONFIG=str(WORK / "p1-mcv-config.toml"),
        LLM_USER_PATH=str(WORK / "p1-llm-home"),
        PYTHONPYCACHEPREFIX=str(WORK / "p1-pycache"),
    )
    shutil.rmtree(WORK / "p1-llm-home", ignore_errors=True)
    return env


def run(quick: bool = False) -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.images import make_photo

    WORK.mkdir(parents=True, exist_ok=True)
    photo = WORK / "p1-photo.jpg"
    make_photo(1600, 1200, seed=1).save(photo, quality=90)
    ours_cmd, peer_cmd = commands(ensure_llm(), photo)
    rounds = 3 if quick else 11
    standin, relay = start_standin()
    try:
        env = client_env(relay)
        # One warm-up each: page cache, llm-ollama's capability cache, .pyc files.
        time_one(ours_cmd, env, relay)
        time_one(peer_cmd, env, relay)
        ours, peer = [], []
        for _ in range(rounds):  # interleaved so drift hits both alike
            ours.append(time_one(ours_cmd, env, relay))
            peer.append(time_one(peer_cmd, env, relay))
    finally:
        relay.close()
        standin.close()
    return [
        _row("P1", "start -> /api/chat first byte", ours, peer, 1, rounds, target=True),
        _row("P1b", "start -> first request byte", ours, peer, 0, rounds, target=False),
    ]


def _row(row_id: str, what: str, ours, peer, index: int, rounds: int, *, target: bool) -> dict:
    ours_ms = statistics.median(sample[index] for sample in ours)
    peer_ms = statistics.median(sample[index] for sample in peer)
    ratio = ours_ms / peer_ms
    return {
        "id": row_id,
        "what": f"mcv ask vs llm+llm-ollama: {what}",
        "ours": ours_ms,
        "peer": peer_ms,
        "unit": "ms",
        "ratio": ratio,
        "target": f"<= {TARGET_RATIO}x and <= {TARGET_MS:.0f} ms" if target else "(informative)",
        "ok": (ratio <= TARGET_RATIO and ours_ms <= TARGET_MS) if target else True,
        "note": f"median of {rounds} interleaved runs; ratio = ours/peer",
    }


if __name__ == "__main__":
    from bench.run import print_table

    print_table(run(quick="--quick" in sys.argv))
