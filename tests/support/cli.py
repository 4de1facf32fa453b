"""Run mcv in process with a fake terminal, httpie-style.

    result = run_mcv(["ask", str(photo), "hi"], environ={...}, stdout_tty=False)
    result.exit_code, result.stdout, result.stderr

Fixture `mcv_env` gives a clean environment (temp config file, no
OLLAMA_HOST from the developer's shell) to extend per test.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import pytest

from mcv.cli.env import Environment
from mcv.cli.main import run


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


class _TtyText(io.StringIO):
    """A StringIO that says it is a terminal, for rich's benefit."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def run_mcv(
    args: Sequence[str],
    *,
    environ: Mapping[str, str],
    stdin: bytes = b"",
    stdout_tty: bool = False,
    stdin_tty: bool = False,
    width: int = 80,
) -> Result:
    stdout, stderr = _TtyText(stdout_tty), _TtyText(False)
    env = Environment(
        stdin=io.BytesIO(stdin),
        stdout=stdout,
        stderr=stderr,
        stdin_isatty=stdin_tty,
        stdout_isatty=stdout_tty,
        stderr_isatty=False,
        environ=dict(environ),
        width=width,
    )
    code = run(list(args), env)
    return Result(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def mcv_env(tmp_path) -> dict[str, str]:
    """A process-like environment of this test's own: config file, digest
    cache, empty Ollama store and HF cache, no daemon address."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MCV_", "OLLAMA_", "OPENAI_"))}
    environ["MCV_CONFIG"] = str(tmp_path / "mcv-config" / "config.toml")
    environ["MCV_STATE_DIR"] = str(tmp_path / "mcv-state")
    environ["MCV_DATA_DIR"] = str(tmp_path / "mcv-data")
    environ["OLLAMA_MODELS"] = str(tmp_path / "ollama-models")
    environ["HF_HOME"] = str(tmp_path / "hf-home")
    environ["NO_COLOR"] = "1"
    return environ
