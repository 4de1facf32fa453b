"""The VS Code extension's logic under `node --test`, with a stand-in `vscode` module: the manifest
and its when clause, a stubbed spawn (argument arrays with hostile names, streaming, alt text),
then the real mcv spawned for real against the Ollama stand-in."""

from __future__ import annotations

import shutil
import subprocess
from importlib.resources import files
from pathlib import Path

import pytest

HERE = Path(__file__).parent / "vscode"
EXTENSION = Path(str(files("mcv.plugins") / "editors" / "vscode"))
pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="needs node (scripts/test installs nodejs)")


def _node_test(environ: dict[str, str], *names: str) -> subprocess.CompletedProcess:
    environ = {**environ, "MCV_VSCODE_EXTENSION": str(EXTENSION)}
    return subprocess.run(
        ["node", "--test", *(str(HERE / name) for name in names)],
        env=environ, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_manifest_and_when_clause(mcv_env):
    result = _node_test(mcv_env, "manifest.test.js")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 4" in result.stdout


def test_commands_with_a_stubbed_spawn(mcv_env):
    result = _node_test(mcv_env, "extension.test.js")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 6" in result.stdout


def test_with_the_real_mcv(real_env):
    environ, check_requests = real_env
    result = _node_test(environ, "e2e.test.js")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# pass 1" in result.stdout and "# skipped 0" in result.stdout
    check_requests()
