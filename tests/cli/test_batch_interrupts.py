"""Ctrl-C during `mcv batch`: the pieces that make any moment of it end with 130 and no traceback
(the whole process is tried in test_batch_streams.py)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
import weakref

import pytest

from mcv.cli.batch_view import _interrupts
from mcv.core.batch.dispatch import Lanes


def test_a_ctrl_c_stops_once_and_more_while_stopping_are_dropped():
    with _interrupts():
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
            time.sleep(5)
        signal.raise_signal(signal.SIGINT)  # the batch is stopping: its cleanup is not cut short
        signal.raise_signal(signal.SIGTERM)
        time.sleep(0.05)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigterm_stops_a_batch_as_ctrl_c_does():
    with _interrupts(), pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)
        time.sleep(5)


def test_a_ctrl_c_swallowed_by_a_callback_comes_again_quietly(capsys):
    class Thing:
        pass

    def callback(ref) -> None:  # a weakref callback (as importlib's module locks have) cannot raise
        signal.raise_signal(signal.SIGINT)
        for _ in range(10_000):  # the handler runs here, inside the callback
            pass

    thing = Thing()
    keep = weakref.ref(thing, callback)
    started = time.monotonic()
    with _interrupts():
        with pytest.raises(KeyboardInterrupt):
            del thing  # the callback runs: its KeyboardInterrupt is "ignored" by Python
            time.sleep(5)  # ... and sent again to this thread, out of the callback
    assert time.monotonic() - started < 2 and keep() is None
    assert "Exception ignored" not in capsys.readouterr().err


def test_an_ignored_sigint_stays_ignored():
    before = signal.signal(signal.SIGINT, signal.SIG_IGN)  # `mcv batch ... &` from a script
    try:
        with _interrupts():
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            time.sleep(0.05)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, before)


def test_lanes_stopped_while_they_start_close_without_error():
    lanes = Lanes([], make_session=None, ask=None, results=queue.Queue())
    started = threading.Thread(target=time.sleep, args=(0.05,))
    started.start()
    lanes._threads += [started, threading.Thread(target=time.sleep, args=(1,))]  # Ctrl-C before the second started
    lanes.close(grace=0.1, wait=0.1)
    assert lanes.stop.is_set() and not started.is_alive()


def test_python_m_mcv_exits_130_after_a_ctrl_c_in_generated_code(tmp_path, mcv_env):
    """A KeyboardInterrupt that lands in string-exec'd code (a dataclass's generated __init__ during
    a lazy import) and is caught must not make `python -m mcv` die of SIGINT at exit (-2)."""
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(
        "import mcv.cli.app as app\n"
        "real = app.build_command\n"
        "def build_command():\n"
        "    command = real()\n"
        "    command.main = lambda *args, **kwargs: exec('raise KeyboardInterrupt')  # caught by mcv\n"
        "    return command\n"
        "app.build_command = build_command\n"
    )
    mcv_env["PYTHONPATH"] = str(tmp_path / "hook")
    proc = subprocess.run([sys.executable, "-m", "mcv", "--help"], env=mcv_env, capture_output=True, timeout=60)
    assert proc.returncode == 130, proc.stderr
    assert b"Traceback" not in proc.stderr
