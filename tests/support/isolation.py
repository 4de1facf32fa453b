"""Keep every test away from the developer's own mcv config, digest cache,
history database, Ollama store, Hugging Face cache and Ollama daemon.

Autouse and session-wide: code that reads os.environ (library calls, the
official client) sees temp folders, and `mcv_env` (support/cli.py) starts
from this environment.
"""

from __future__ import annotations

import os

import pytest

STRAY = ("OLLAMA_HOST", "OLLAMA_API_KEY", "HF_HUB_OFFLINE", "HF_ENDPOINT", "HF_HUB_CACHE")


@pytest.fixture(scope="session", autouse=True)
def isolated_user_dirs(tmp_path_factory):
    root = tmp_path_factory.mktemp("user-dirs")
    saved = dict(os.environ)
    for name in STRAY:
        os.environ.pop(name, None)
    for name in [n for n in os.environ if n.startswith("MCV_")]:
        os.environ.pop(name)
    os.environ.update(
        MCV_CONFIG=str(root / "config" / "config.toml"),
        MCV_STATE_DIR=str(root / "state"),
        MCV_DATA_DIR=str(root / "data"),
        OLLAMA_MODELS=str(root / "ollama-models"),
        HF_HOME=str(root / "hf-home"),
    )
    yield root
    os.environ.clear()
    os.environ.update(saved)
