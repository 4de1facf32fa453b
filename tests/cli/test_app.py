"""The command tree itself: help, version, shell completion, and what `--help` imports."""

from __future__ import annotations

import os
import subprocess
import sys

from mcv import __version__
from support.cli import run_mcv


def test_version_and_help(mcv_env):
    result = run_mcv(["--version"], environ=mcv_env)
    assert result.exit_code == 0 and result.stdout.strip() == f"mcv {__version__}"
    result = run_mcv(["--help"], environ=mcv_env)
    for command in ("ask", "model", "setup", "doctor", "config"):
        assert f"  {command} " in result.stdout


def test_unknown_command_is_usage_error(mcv_env):
    result = run_mcv(["frobnicate"], environ=mcv_env)
    assert result.exit_code == 2
    assert result.stderr.startswith("mcv: error: No such command 'frobnicate'")


def _complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "_MCV_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    proc = subprocess.run([sys.executable, "-m", "mcv"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_shell_completion_of_commands_and_options():
    assert _complete("mcv mo", 1) == ["model"]
    assert set(_complete("mcv model ", 2)) >= {"create", "modelfile", "pull", "fetch", "path", "ls", "show", "rm"}
    assert "--no-stream" in _complete("mcv ask --no-", 2)


def test_help_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from mcv.cli.main import run\n"
        "run(['--help'])\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'numpy', 'pydantic', 'llama_cpp', 'PIL', 'gguf', 'httpx', 'huggingface_hub'}\n"
        "sys.stderr.write(repr(sorted(heavy)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stderr == "[]", proc.stderr


def test_bare_group_prints_help(mcv_env):
    for args in ([], ["model"], ["config"]):
        result = run_mcv(args, environ=mcv_env)
        assert result.exit_code == 0
        assert result.stdout.startswith("Usage: mcv") and result.stderr == ""
