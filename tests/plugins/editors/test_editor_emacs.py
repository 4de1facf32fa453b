"""mcv.el under `emacs --batch` with ERT (Debian's emacs-nox): a recording stub mcv (argument lists
with hostile file names, dired's marked files, streaming, failures, alt text), then the real mcv
against the Ollama stand-in."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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


def test_with_a_recording_stub(tmp_path, mcv_env):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ["-rf x.png", "q\"$(id)'`.png", "semi;colon | pipe.png", "new\nline.png", "plain.png", "fail.png"]:
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "notes.txt").write_text("not an image")
    log = tmp_path / "argv.jsonl"
    mcv_env.update(
        MCV_TEST_MODE="stub", MCV_TEST_DIR=str(folder), MCV_STUB_LOG=str(log),
        MCV_TEST_CMD=json.dumps([str(HERE / "stub_mcv.py")]),
    )  # fmt: skip
    result = _run_emacs(mcv_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 6 tests, 6 results as expected" in result.stderr, result.stderr
    assert len(log.read_text().splitlines()) == 10


def test_with_the_real_mcv(tmp_path, mcv_env, ollama_standin, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="A red square on a white table.")
    folder = tmp_path / "notes"
    folder.mkdir()
    photo = folder / "photo one.jpg"
    photo.write_bytes(Path(photo_jpeg).read_bytes())
    mcv_env.update(
        OLLAMA_HOST=ollama_standin.url, MCV_TEST_MODE="real", MCV_TEST_DIR=str(folder), MCV_TEST_PHOTO=str(photo),
        MCV_TEST_CMD=json.dumps([sys.executable, "-m", "mcv"]),
    )  # fmt: skip
    result = _run_emacs(mcv_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Ran 2 tests, 2 results as expected" in result.stderr, result.stderr
    assert len(ollama_standin.requests_to("/api/chat")) == 2
