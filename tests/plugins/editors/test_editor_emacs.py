"""mcv.el under `emacs --batch` with ERT (Debian's emacs-nox): a recording stub mcv (argument lists
with hostile file names, dired's marked files, streaming, failures, alt text), then the real mcv
against the Ollama stand-in."""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

HERE = Path(__file__).parent
pytestmark = pytest.mark.skipif(shutil.which("emacs") is None, reason="needs emacs (scripts/test installs emacs-nox)")
PACKAGE = Path(str(files("mcv.plugins") / "editors" / "emacs"))


def _run_emacs(environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["emacs", "--batch", "-Q", "-L", str(PACKAGE), "-l", "mcv", "-l", str(HERE / "mcv-test.el"),
         "-f", "ert-run-tests-batch-and-exit"],
        env=environ, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_byte_compiles_cleanly(tmp_path):
    copy = tmp_path / "mcv.el"
    copy.write_bytes((PACKAGE / "mcv.el").read_bytes())
    result = subprocess.run(
        ["emacs", "--batch", "-Q", "--eval", "(setq byte-compile-error-on-warn t)", "-f", "batch-byte-compile", str(copy)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_with_a_recording_stub(stub_env):
    environ, log = stub_env
    result = _run_emacs(environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 6 tests, 6 results as expected" in result.stderr, result.stderr
    assert len(log.read_text().splitlines()) == 10


def test_with_the_real_mcv(real_env):
    environ, check_requests = real_env
    result = _run_emacs(environ)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 2 tests, 2 results as expected" in result.stderr, result.stderr
    check_requests()
