"""Importing mcv changes nothing in the importing process: httpx under trio still works.

The `mcv` command lightens httpx's import by hiding trio while httpcore
loads (mcv.cli.startup); that must stay at the command's entry point. A
library user or a server on anyio/trio imports the core and keeps an httpx
that runs under trio.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

CODE = """
import sys
import mcv.core.session, mcv.core.ollama.client, mcv.core.images.download, mcv.cli.main
import httpx, trio

async def main():
    async with httpx.AsyncClient() as client:
        reply = await client.get(sys.argv[1] + "/api/version")
        print(reply.status_code, reply.json()["version"])

trio.run(main)
"""


def test_async_httpx_under_trio_after_importing_mcv(ollama_standin):
    pytest.importorskip("trio")
    done = subprocess.run(
        [sys.executable, "-c", CODE, ollama_standin.url], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["200", ollama_standin.version]


def test_the_command_entry_point_is_where_the_trick_runs():
    code = (
        "import sys; from mcv.cli.startup import lighten_httpx_import; lighten_httpx_import()\n"
        "import httpcore._synchronization as s; print(s.trio is None, 'trio' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]  # httpcore has no trio, and trio was never imported
