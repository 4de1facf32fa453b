"""Streaming sha256, two files at once, and the digest cache."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from pathlib import Path

import pytest

from mcv.errors import InputError
from mcv.packaging import digest as digest_mod
from mcv.packaging.digest import DigestCache, HashCancelled, HashJobs, hash_files, sha256_file


def _write(path: Path, size: int, seed: int = 0) -> Path:
    block = hashlib.sha256(str(seed).encode()).digest() * 4096  # 128 KiB pattern
    with open(path, "wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)
    return path


def _reference(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("size", [0, 1, digest_mod.CHUNK_SIZE - 1, digest_mod.CHUNK_SIZE, 3 * digest_mod.CHUNK_SIZE + 7])
def test_sha256_matches_hashlib_at_chunk_edges(tmp_path, size):
    path = _write(tmp_path / "f", size)
    assert sha256_file(path) == _reference(path)


def test_memory_is_constant_whatever_the_size(tmp_path):
    path = _write(tmp_path / "big", 48 * 1024 * 1024)
    tracemalloc.start()
    try:
        sha256_file(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * digest_mod.CHUNK_SIZE  # one reused buffer, not the file


def test_progress_adds_up_to_the_size(tmp_path):
    path = _write(tmp_path / "f", 5 * digest_mod.CHUNK_SIZE + 3)
    seen = []
    sha256_file(path, progress=lambda p, n: seen.append(n))
    assert sum(seen) == path.stat().st_size


def test_two_files_hash_in_two_threads(tmp_path):
    a, b = _write(tmp_path / "a", 3_000_000, 1), _write(tmp_path / "b", 200_000, 2)
    threads = set()
    result = hash_files([a, b], progress=lambda p, n: threads.add(threading.current_thread().name))
    assert result == {a: _reference(a), b: _reference(b)}
    assert len(threads) == 2 and all(name.startswith("mcv-hash") for name in threads)


def test_jobs_yield_the_small_file_first(tmp_path):
    big, small = _write(tmp_path / "big", 64 * 1024 * 1024, 1), _write(tmp_path / "small", 1000, 2)
    with HashJobs([big, small]) as jobs:
        order = [path for path, _ in jobs.as_completed()]
    assert order == [small, big]


def test_leaving_early_cancels_the_other_thread(tmp_path):
    big, small = _write(tmp_path / "big", 256 * 1024 * 1024, 1), _write(tmp_path / "small", 10, 2)
    with HashJobs([big, small]) as jobs:
        first_path, _ = next(jobs.as_completed())
        assert first_path == small
    assert isinstance(jobs.futures[big].exception(), HashCancelled)


def test_unreadable_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        sha256_file(tmp_path / "absent.gguf")


def test_cache_skips_rehash_until_the_file_changes(tmp_path, monkeypatch):
    path = _write(tmp_path / "f", 100_000)
    cache = DigestCache(tmp_path / "state" / "digests.json")
    first = hash_files([path], cache=cache)[path]

    calls = []
    real = digest_mod.sha256_file
    monkeypatch.setattr(digest_mod, "sha256_file", lambda *a, **k: calls.append(a) or real(*a, **k))
    reloaded = DigestCache(tmp_path / "state" / "digests.json")  # persisted across runs
    assert hash_files([path], cache=reloaded)[path] == first
    assert calls == []

    # A hard link is the same file: still known.
    link = tmp_path / "link"
    os.link(path, link)
    assert reloaded.lookup(link) == first

    # Same size, new content and mtime: hashed again, new digest.
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(1, 1))
    assert reloaded.lookup(path) is None
    assert hash_files([path], cache=reloaded)[path] == _reference(path) != first
    assert len(calls) == 1


def test_broken_cache_file_is_ignored(tmp_path):
    state = tmp_path / "digests.json"
    state.write_text("{oops")
    path = _write(tmp_path / "f", 10)
    cache = DigestCache(state)
    assert cache.lookup(path) is None
    cache.store(path, _reference(path))
    assert DigestCache(state).lookup(path) == _reference(path)
