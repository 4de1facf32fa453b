"""Start-up tricks for the `mcv` command, and only for it (measured: ~75 ms of ~100).

They change what a process imports, so they run at the console script's
entry point (`mcv.cli.main.main`) before anything imports httpx, and never
when mcv is imported as a library or a server: a process that imports
`mcv.core` keeps httpx and httpcore exactly as they are.

- `import httpx` also imports `httpx._main` (the `httpx` console script),
  which pulls in click, rich and pygments (~30 ms). A stub is registered for
  that one module first.
- httpcore probes `import trio` for async-under-trio support; when trio is
  installed that import costs ~45 ms. The mcv command talks to Ollama
  synchronously, so trio is hidden while httpcore imports (httpcore then has
  no trio support in this process; `import trio` itself still works).

If httpx/httpcore were imported before, this changes nothing.
"""

from __future__ import annotations

import sys
import types


def lighten_httpx_import() -> None:
    if "httpx" in sys.modules or "httpcore" in sys.modules:
        return
    if "httpx._main" not in sys.modules:
        stub = types.ModuleType("httpx._main")

        def main() -> None:
            raise SystemExit("the httpx command line is not available inside mcv")

        stub.main = main  # type: ignore[attr-defined]
        sys.modules["httpx._main"] = stub
    if "trio" not in sys.modules:
        sys.modules["trio"] = None  # type: ignore[assignment]  # makes `import trio` fail fast
        try:
            import httpcore  # noqa: F401  (imported here so that it caches "no trio")
        finally:
            if sys.modules.get("trio", False) is None:
                del sys.modules["trio"]
