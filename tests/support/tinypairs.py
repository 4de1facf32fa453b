"""Tiny MiniCPM-V GGUF pairs for tests (see mcv.selftest.tinypair).

Fixtures (session scoped, files written once per session into a tmp dir):
    tiny_pair_factory(generation="2.5", **write_pair_kwargs) -> (llm_path, mmproj_path)
        Cached per (generation, kwargs). Treat the files as read-only; copy
        them if a test needs to modify one.
    tiny_pair_25, tiny_pair_26   -> (llm_path, mmproj_path) for 2.5 / 2.6
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

TinyPair = tuple[Path, Path]


@pytest.fixture(scope="session")
def tiny_pair_factory(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., TinyPair]:
    from mcv.selftest.tinypair import write_pair

    root = tmp_path_factory.mktemp("tinypairs")
    cache: dict[tuple, TinyPair] = {}

    def make(generation: str = "2.5", **kwargs) -> TinyPair:
        key = (generation, tuple(sorted(kwargs.items())))
        if key not in cache:
            directory = root / f"pair{len(cache)}-{generation}"
            cache[key] = write_pair(directory, generation, **kwargs)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tiny_pair_25(tiny_pair_factory: Callable[..., TinyPair]) -> TinyPair:
    return tiny_pair_factory("2.5")


@pytest.fixture(scope="session")
def tiny_pair_26(tiny_pair_factory: Callable[..., TinyPair]) -> TinyPair:
    return tiny_pair_factory("2.6")
