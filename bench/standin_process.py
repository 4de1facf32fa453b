"""A stand-in server run by a benchmark in its own process (so its threads do not share our GIL).

The script prints its base URL(s) on the first line of stdout, space-separated, then serves until
its stdin is closed.
"""

from __future__ import annotations

import subprocess
import sys


def start_standin_script(script: str, *args: str, count: int = 1) -> tuple[subprocess.Popen, list[str]]:
    """Run `python -c script args...`; returns (process, its `count` base URLs)."""
    proc = subprocess.Popen([sys.executable, "-c", script, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    urls = proc.stdout.readline().split()
    if len(urls) != count or not all(url.startswith("http") for url in urls):
        proc.kill()
        raise RuntimeError(f"stand-in did not start (said {urls!r})")
    return proc, urls
