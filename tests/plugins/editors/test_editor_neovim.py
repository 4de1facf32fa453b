"""The Neovim plugin under `nvim --headless` (Debian's neovim, 0.7.2 on Debian 12): a recording stub
mcv (argument lists with hostile file names, streaming, failures, :McvAlt), then the real mcv
against the Ollama stand-in."""

from __future__ import annotations

import json
import shutil
import subprocess
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


def test_with_a_recording_stub(stub_env):
    environ, log = stub_env
    result = _run_nvim(environ)
    assert result.returncode == 0, result.stderr
    assert "all passed" in result.stderr
    assert len(log.read_text().splitlines()) == 12  # every run reached mcv, once


def test_with_the_real_mcv(real_env):
    environ, check_requests = real_env
    result = _run_nvim(environ)
    assert result.returncode == 0, result.stderr
    assert "all passed" in result.stderr
    chats = check_requests()
    assert chats[2].json["options"]["num_predict"] == 100  # the alt preset
