"""The MCP toolbox in process (no transport): what one call returns when calls overlap."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mcv.core.settings import Settings
from mcv.packaging.local_pairs import SOURCES
from mcv.plugins.mcp.sandbox import Sandbox
from mcv.plugins.mcp.tools import Toolbox


class _YieldingLock:
    """A lock that, once released, lets a waiting call in before its releaser goes on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.held = threading.Event()

    def __enter__(self):
        self._lock.acquire()
        self.held.set()
        return self

    def __exit__(self, *exc):
        self._lock.release()
        time.sleep(0.3)
        return False


def test_overlapping_calls_keep_their_own_result_shape(ollama_standin, mcv_env, tmp_path, photo_jpeg):
    """Assistants call tools in parallel: an extract_json whose turn ends while a describe_image
    waits keeps its structured content (the describe call resets the shared session's parameters)."""
    ollama_standin.add_model("minicpm-v", answer=lambda request: '{"total": 12.5}' if request.get("format") else "A photo.", delay=0.3)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    (tmp_path / "p.jpg").write_bytes(Path(photo_jpeg).read_bytes())
    toolbox = Toolbox(Settings.load(mcv_env, flags={}, pair_sources=SOURCES), Sandbox.from_folders(str(tmp_path), []))
    toolbox._lock = lock = _YieldingLock()
    results = {}
    try:
        first = threading.Thread(target=lambda: results.update(json=toolbox.call("extract_json", {"path": "p.jpg", "schema": "total float"})))
        first.start()
        assert lock.held.wait(10)
        second = threading.Thread(target=lambda: results.update(text=toolbox.call("describe_image", {"path": "p.jpg"})))
        second.start()
        first.join(30)
        second.join(30)
    finally:
        toolbox.close()
    assert not results["json"].error and results["json"].structured == {"total": 12.5}, results["json"]
    assert results["text"].text == "A photo." and results["text"].structured is None
