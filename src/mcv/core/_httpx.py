"""httpx, imported without two costs mcv never uses (measured: ~75 ms of ~100).

- `import httpx` also imports `httpx._main` (the `httpx` console script),
  which pulls in click, rich and pygments (~30 ms). A stub is registered for
  that one module first.
- httpcore probes `import trio` for async-under-trio support; when trio is
  installed that import costs ~45 ms. mcv's Ollama client is synchronous, so
  trio is hidden during httpcore's import only (httpcore then simply has no
  trio support; `import trio` elsewhere still works).

If httpx/httpcore were imported before, this changes nothing.
"""

from __future__ import annotations

import sys
import types

if "httpx" not in sys.modules and "httpx._main" not in sys.modules:
    _stub = types.ModuleType("httpx._main")

    def main() -> None:
        raise SystemExit("the httpx command line is not available inside mcv")

    _stub.main = main  # type: ignore[attr-defined]
    sys.modules["httpx._main"] = _stub

if "httpcore" not in sys.modules and "trio" not in sys.modules:
    sys.modules["trio"] = None  # type: ignore[assignment]  # makes `import trio` fail fast
    try:
        import httpcore  # noqa: F401  (imported here so that it caches "no trio")
    finally:
        if sys.modules.get("trio", False) is None:
            del sys.modules["trio"]

import httpx  # noqa: E402

__all__ = ["httpx"]
