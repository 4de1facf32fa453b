"""`mcv describe --gather`: launches started together (Explorer starts one per selected file) become
one job. Real `python -m mcv` processes against the Ollama stand-in: one leader runs one job over
every file, the others hand their files over and exit 0 at once."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from support.desktop import HOSTILE_NAMES
from support.images import make_photo, png_bytes

from mcv.plugins.desktop.gather import endpoint_for


@pytest.fixture
def daemon(ollama_standin, mcv_env):
    """A vision model that answers slowly enough that the leader's job outlasts every other launch."""
    ollama_standin.add_model("minicpm-v", answer="A picture & more.", chunks=["A picture ", "& more."], delay=0.15)
    runtime = tempfile.mkdtemp(prefix="mcv-rt-")  # short: a socket path has ~104 bytes
    os.chmod(runtime, 0o700)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama", XDG_RUNTIME_DIR=runtime)
    mcv_env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={runtime}/no-bus"
    yield ollama_standin, mcv_env
    for root, dirs, files in os.walk(runtime, topdown=False):
        for name in files:
            os.unlink(os.path.join(root, name))
        for name in dirs:
            os.rmdir(os.path.join(root, name))
    os.rmdir(runtime)


def distinct_images(folder: Path, names: list[bytes]) -> list[bytes]:
    """One PNG per name, each a different picture (so the stand-in can tell which it saw)."""
    os.makedirs(folder, exist_ok=True)
    paths = []
    for seed, name in enumerate(names):
        path = os.path.join(os.fsencode(folder), name)
        with open(path, "wb") as file:
            file.write(png_bytes(make_photo(64, 48, seed=seed + 10)))
        paths.append(path)
    return paths


def launch_together(commands: list[list[bytes]], env: dict[str, str], cwds: list[bytes] | None = None):
    """Start every command at (nearly) the same moment; wait for all; each one's exit time."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "mcv", *command], env=env, cwd=cwds[index] if cwds else None,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        for index, command in enumerate(commands)
    ]
    ended: dict[int, float] = {}
    deadline = time.monotonic() + 90
    try:
        while len(ended) < len(procs) and time.monotonic() < deadline:
            for index, proc in enumerate(procs):
                if index not in ended and proc.poll() is not None:
                    ended[index] = time.monotonic()
            time.sleep(0.01)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    outputs = [(proc.returncode, *proc.communicate(timeout=10)) for proc in procs]
    return outputs, ended


def images_seen(standin) -> list[str]:
    return [image for chat in standin.requests_to("/api/chat") for image in chat.json["messages"][-1]["images"]]


def leader_and_others(outputs):
    leaders = [index for index, (_, stdout, _) in enumerate(outputs) if stdout]
    assert len(leaders) == 1, [out[1:] for out in outputs]
    return leaders[0], [index for index in range(len(outputs)) if index != leaders[0]]


def test_six_launches_are_one_job(daemon, tmp_path):
    standin, env = daemon
    paths = distinct_images(tmp_path / "pictures", [f"photo {n}.png".encode() for n in range(6)])
    outputs, ended = launch_together([[b"describe", b"--gather", b"--print", b"--", path] for path in paths], env)
    assert [code for code, _, _ in outputs] == [0] * 6, [err for _, _, err in outputs]
    leader, others = leader_and_others(outputs)
    text = outputs[leader][1].decode()
    assert text.count("== ") == 6 and text.count("A picture & more.") == 6  # one set of results, every file
    for n in range(6):
        assert f"== photo {n}.png ==" in text
    assert all(outputs[index][1] == b"" and outputs[index][2] == b"" for index in others)
    assert all(ended[index] < ended[leader] for index in others)  # they did not wait for the job
    seen = images_seen(standin)
    assert len(seen) == 6 and len(set(seen)) == 6  # six different pictures, each asked about once


def test_the_same_file_twice_is_asked_once(daemon, tmp_path):
    standin, env = daemon
    (path,) = distinct_images(tmp_path / "pictures", [b"one.png"])
    relative = [b"describe", b"--gather", b"--print", b"--", b"one.png"]  # from its folder, as a script
    outputs, _ = launch_together([[b"describe", b"--gather", b"--print", b"--", path], relative], env,
                                 cwds=[b"/", os.path.dirname(path)])  # fmt: skip
    assert [code for code, _, _ in outputs] == [0, 0], outputs
    leader, _ = leader_and_others(outputs)
    assert outputs[leader][1].decode() == "A picture & more.\n"  # one file: one answer, no headers
    assert len(standin.requests_to("/api/chat")) == 1


def test_hostile_names_arrive_intact(daemon, tmp_path):
    standin, env = daemon
    names = list(HOSTILE_NAMES)
    paths = distinct_images(tmp_path / "pictures", names)
    assert any(b"\xff" in path for path in paths) and any(b"\n" in path for path in paths)
    outputs, _ = launch_together([[b"describe", b"--gather", b"--print", b"--", path] for path in paths], env)
    assert [code for code, _, _ in outputs] == [0] * len(paths), [err for _, _, err in outputs]
    leader, _ = leader_and_others(outputs)
    text = outputs[leader][1].decode()
    # Every file was opened under its own name (a changed byte: "not found", exit 3 and an error line).
    assert text.count("A picture & more.") == len(paths) and outputs[leader][2] == b""
    assert len(set(images_seen(standin))) == len(paths)
    assert not (tmp_path / "pictures" / "INJECTED").exists()


def test_a_stale_socket_is_replaced(daemon, tmp_path):
    standin, env = daemon
    endpoint = endpoint_for("describe", {"output": "print", "model": None, "host": None}, env)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(endpoint.address)  # a leader that crashed: its socket file stays, nobody listens
    stale.close()
    assert os.path.exists(endpoint.address)
    paths = distinct_images(tmp_path / "pictures", [b"a.png", b"b.png", b"c.png"])
    outputs, _ = launch_together([[b"describe", b"--gather", b"--print", b"--", path] for path in paths], env)
    assert [code for code, _, _ in outputs] == [0, 0, 0], [err for _, _, err in outputs]
    leader, _ = leader_and_others(outputs)
    assert outputs[leader][1].decode().count("A picture & more.") == 3
    assert not os.path.exists(endpoint.address)  # the leader took it over, and removed it when done


def test_another_action_is_another_job(daemon, tmp_path):
    standin, env = daemon
    paths = distinct_images(tmp_path / "pictures", [b"a.png", b"b.png"])
    outputs, _ = launch_together(
        [[b"describe", b"--gather", b"--print", b"--", paths[0]], [b"ocr", b"--gather", b"--print", b"--", paths[1]]], env
    )
    assert [(code, stdout.decode()) for code, stdout, _ in outputs] == [(0, "A picture & more.\n")] * 2
    assert len(standin.requests_to("/api/chat")) == 2


def test_a_stranger_without_the_key_cannot_hand_over_files(daemon, tmp_path):
    """A client that does not know the user's key is refused; the leader's job stays its own."""
    from multiprocessing.connection import AuthenticationError, Client

    standin, env = daemon
    (path,) = distinct_images(tmp_path / "pictures", [b"mine.png"])
    leader = subprocess.Popen([sys.executable, "-m", "mcv", "describe", "--gather", "--print", "--", path], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        endpoint = endpoint_for("describe", {"output": "print", "model": None, "host": None}, env)
        deadline = time.monotonic() + 20
        while not os.path.exists(endpoint.address) and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises((AuthenticationError, EOFError, ConnectionError)):
            with Client(endpoint.address, "AF_UNIX", authkey=b"x" * 32) as connection:
                connection.send_bytes(os.fsencode(tmp_path / "pictures" / "other.png"))
        stdout, stderr = leader.communicate(timeout=60)
    finally:
        if leader.poll() is None:
            leader.kill()
            leader.wait()
    assert leader.returncode == 0, stderr
    assert stdout.decode() == "A picture & more.\n" and len(standin.requests_to("/api/chat")) == 1


def test_the_private_folder_is_the_users_own(daemon):
    _, env = daemon
    endpoint = endpoint_for("ocr", {}, env)
    info = os.stat(endpoint.folder)
    assert info.st_uid == os.getuid() and info.st_mode & 0o777 == 0o700
    key = endpoint.folder / "gather.key"
    assert key.stat().st_mode & 0o777 == 0o600 and len(endpoint.authkey) == 32
    assert endpoint_for("ocr", {}, env).authkey == endpoint.authkey  # every launch reads the same key


def test_without_a_private_folder_each_launch_runs_on_its_own(daemon, tmp_path):
    standin, env = daemon
    Path(env["XDG_RUNTIME_DIR"], "mcv").write_text("not a folder")  # a symlink or another user's would be refused too
    (path,) = distinct_images(tmp_path / "pictures", [b"alone.png"])
    outputs, _ = launch_together([[b"describe", b"--gather", b"--print", b"--", path]], env)
    ((code, stdout, stderr),) = outputs
    assert code == 0 and stdout.decode() == "A picture & more.\n"
    assert stderr.decode().count("\n") == 1 and "runs on its own" in stderr.decode() and b"Traceback" not in stderr
