"""The Neovim plugin under `nvim --headless` (Debian's neovim, 0.7.2 on Debian 12): a recording stub
mcv (argument lists with hostile file names, streaming, failures, :McvAlt), then the real mcv
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
pytestmark = pytest.mark.skipif(shutil.which("nvim") is None, reason="needs nvim (scripts/test installs neovim)")
PLUGIN = Path(str(files("mcv.plugins") / "editors" / "neovim"))


def _run_nvim(environ: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["nvim", "--headless", "-u", "NONE", "-i", "NONE", "-n", "--cmd", f"set rtp^={PLUGIN}", "--cmd", "runtime plugin/mcv.lua",
         # an error in the test file ends nvim with a failure instead of leaving it waiting
         "-c", f"lua local ok, err = pcall(dofile, {json.dumps(str(HERE / 'nvim_test.lua'))}) "
               "if not ok then io.stderr:write('ERROR: ' .. tostring(err) .. '\\n') vim.cmd('cquit 2') end"],
        env=environ, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_with_a_recording_stub(tmp_path, mcv_env):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ["-rf x.png", "q\"$(id)'`.png", "semi;colon | pipe.png", "new\nline.png", "plain.png", "fail.png"]:
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    log = tmp_path / "argv.jsonl"
    mcv_env.update(
        MCV_TEST_MODE="stub", MCV_TEST_DIR=str(folder), MCV_STUB_LOG=str(log),
        MCV_TEST_CMD=json.dumps([str(HERE / "stub_mcv.py")]),
    )  # fmt: skip
    result = _run_nvim(mcv_env)
    assert result.returncode == 0, result.stderr
    assert "all passed" in result.stderr
    assert len(log.read_text().splitlines()) == 9  # every run reached mcv, once


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
    result = _run_nvim(mcv_env)
    assert result.returncode == 0, result.stderr
    assert "all passed" in result.stderr
    chats = ollama_standin.requests_to("/api/chat")
    assert len(chats) == 2 and all(chat.json["messages"][-1]["images"] for chat in chats)
    assert chats[1].json["options"]["num_predict"] == 100  # the alt preset
