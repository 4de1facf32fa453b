"""`mcv batch` as a real process: file names that are not UTF-8, a reader that goes away,
Ctrl-C while the workers start, and -q."""

from __future__ import annotations

import codecs
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcv.cli.env import Environment
from mcv.cli.main import run
from support.images import jpeg_bytes, make_photo


@pytest.fixture
def daemon(ollama_standin, mcv_env):
    ollama_standin.add_model("minicpm-v", answer="Soft shapes.")
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    mcv_env["MCV_BACKEND"] = "ollama"
    return ollama_standin, mcv_env


def mcv(args, env, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mcv", *args], env=env, capture_output=True, timeout=120, **kwargs)


LATIN1_NAME = b"caf\xe9 \\ au lait.jpg"  # a Latin-1 name (not UTF-8), with a backslash in it too


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "plain.jpg").write_bytes(jpeg_bytes(make_photo(320, 240, seed=1)))
    with open(os.path.join(os.fsencode(folder), LATIN1_NAME), "wb") as handle:
        handle.write(jpeg_bytes(make_photo(320, 240, seed=2)))
    return folder


def test_names_that_are_not_utf8_are_escaped_in_every_output(daemon, odd_folder, tmp_path):
    standin, env = daemon
    proc = mcv(["batch", str(odd_folder), "-p", "alt"], env)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    lines = [json.loads(line) for line in proc.stdout.decode("utf-8").splitlines()]  # strict UTF-8
    odd = next(line for line in lines if line.get("path_escaped"))
    assert odd["path"] == str(odd_folder) + "/caf\\xe9 \\\\ au lait.jpg" and odd["answer"] == "Soft shapes."
    # the documented way back to the file's name
    assert codecs.escape_decode(odd["path"].encode())[0] == os.fsencode(odd_folder) + b"/" + LATIN1_NAME
    assert "path_escaped" not in next(line for line in lines if line["path"].endswith("plain.jpg"))

    out = tmp_path / "out.csv"
    args = ["batch", str(odd_folder), "-p", "alt", "--csv", "--output", str(out), "--sidecar", "json"]
    proc = mcv(args, env)
    assert proc.returncode == 0, proc.stderr
    text = out.read_bytes().decode("utf-8")
    assert "caf\\xe9 \\\\ au lait.jpg" in text
    sidecar = os.path.join(os.fsencode(odd_folder), LATIN1_NAME + b".json")
    with open(sidecar, "rb") as handle:
        saved = json.loads(handle.read().decode("utf-8"))
    assert saved["path_escaped"] is True and saved["answer"] == "Soft shapes."
    asked = len(standin.requests_to("/api/chat"))
    proc = mcv([*args, "--resume"], env)  # read back: both known, nothing asked again
    assert proc.returncode == 0, proc.stderr
    assert b"2 answered before (--resume)" in proc.stderr and len(standin.requests_to("/api/chat")) == asked


def test_a_reader_that_goes_away_ends_the_batch_quietly(daemon, tmp_path):
    standin, env = daemon
    standin.find("minicpm-v").latency = 0.2  # records come one by one: the pipe is closed before the last
    folder = tmp_path / "p"
    folder.mkdir()
    for n in range(6):
        (folder / f"{n}.jpg").write_bytes(jpeg_bytes(make_photo(200, 150, seed=n)))
    proc = subprocess.Popen([sys.executable, "-m", "mcv", "batch", str(folder), "-p", "caption", "-j", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    first = proc.stdout.readline()  # `| head -1`
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0, stderr
    assert json.loads(first)["answer"] == "Soft shapes."
    assert "interrupted" not in stderr and "Traceback" not in stderr and "Broken pipe" not in stderr
    assert len(standin.requests_to("/api/chat")) < 6  # it stopped asking


def test_ctrl_c_while_the_workers_start_prints_no_traceback(daemon, tmp_path):
    standin, env = daemon
    standin.find("minicpm-v").latency = 5.0  # still answering when Ctrl-C comes
    folder = tmp_path / "p"
    folder.mkdir()
    for n in range(4):
        (folder / f"{n}.jpg").write_bytes(jpeg_bytes(make_photo(200, 150, seed=n)))
    # 0: the workers spawning; then a worker starting up (its interpreter up, its initializer not
    # yet run), the lanes starting, the first requests in flight
    for delay in (0.0, 0.01, 0.03, 0.05, 0.08, 0.15, 0.3):
        proc = subprocess.Popen([*WITH_SIGINT, "batch", str(folder), "-p", "caption"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _workers(proc.pid):
            time.sleep(0.001)
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole group
        _, stderr = proc.communicate(timeout=60)
        text = stderr.decode()
        assert "Traceback" not in text and "KeyboardInterrupt" not in text, text
        assert proc.returncode == 130, text
        # records went to stdout: --resume (which reads an --output file) is not what goes on
        assert text.rstrip().endswith("mcv: interrupted; the records printed are whole (--output FILE lets --resume go on)")


# `python -m mcv` with SIGINT at its default whatever this test runs under: a shell without job
# control starts background jobs (`pytest ... &`) ignoring SIGINT, every child inherits that, and
# mcv, like any program, leaves an inherited SIG_IGN alone (so Ctrl-C would be lost by design).
WITH_SIGINT = [
    sys.executable,
    "-c",
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL);"
    " os.execv(sys.executable, [sys.executable, '-m', 'mcv', *sys.argv[1:]])",
]


def _workers(pid: int) -> list[int]:
    """The preparing workers among the children of `pid` (not multiprocessing's resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                command = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if int(fields[1]) == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


def test_quiet_draws_no_bar_and_lists_each_failure_once(daemon, tmp_path):
    standin, env = daemon
    folder = tmp_path / "p"
    folder.mkdir()
    (folder / "good.jpg").write_bytes(jpeg_bytes(make_photo(200, 150, seed=1)))
    (folder / "broken.jpg").write_bytes(jpeg_bytes(make_photo(200, 150, seed=2))[:300])
    stderr = io.StringIO()
    terminal = Environment(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=stderr, stdin_isatty=False,
                           stdout_isatty=False, stderr_isatty=True, environ=env, width=100)  # fmt: skip
    code = run(["batch", str(folder), "-p", "caption", "-q", "--output", str(tmp_path / "o.jsonl")], terminal)
    assert code == 3
    shown = stderr.getvalue()
    assert "━" not in shown and "files; asking" not in shown
    assert shown.count("broken.jpg") == 1 and shown.startswith("mcv: 1 answered, 1 failed in ")
