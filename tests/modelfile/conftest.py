"""Ollama's prompt building, in Go (gotmpl/main.go), for the template tests.

`ollama_prompt` is skipped without a Go toolchain (Debian: golang-go).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

GOTMPL = Path(__file__).parent / "gotmpl"


@pytest.fixture(scope="session")
def gotmpl_bin(tmp_path_factory):
    go = shutil.which("go")
    if not go:
        pytest.skip("Go toolchain not installed (apt-get install golang-go)")
    out = tmp_path_factory.mktemp("gotmpl") / "render"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    env.setdefault("GOCACHE", str(tmp_path_factory.mktemp("gocache")))
    proc = subprocess.run([go, "build", "-o", str(out), "."], cwd=GOTMPL, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="session")
def ollama_prompt(gotmpl_bin):
    """ollama_prompt(template, messages, think=None, system="") -> (prompt, think_tags).

    `messages` are /api/chat messages ({"role", "content", "thinking"?}) with
    "images" as a count; `system` is the Modelfile SYSTEM.
    """

    def run(template: str, messages: list[dict], think: bool | None = None, system: str = ""):
        payload = json.dumps({"template": template, "system": system, "messages": messages, "think": think})
        proc = subprocess.run([str(gotmpl_bin)], input=payload, capture_output=True, text=True, timeout=30)
        result = json.loads(proc.stdout)
        assert "error" not in result, result
        return result["prompt"], tuple(result["think_tags"])

    return run
