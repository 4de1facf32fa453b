"""Getting the GGUF pair from a (local) Hugging Face Hub into the HF cache."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from mcv.errors import BackendError, InputError, ServerUnavailable
from mcv.packaging import hf_fetch, hub_catalog
from mcv.packaging.digest import DigestCache
from mcv.packaging.events import Reporter
from mcv.packaging.hf_fetch import HubSettings, download_file, fetch_pair, find_cached_pair

REPO_25 = "openbmb/MiniCPM-Llama3-V-2_5-gguf"


@pytest.fixture
def environ(hf_environ, tmp_path):
    return {**hf_environ, "MCV_STATE_DIR": str(tmp_path / "state")}


def serve_pair(hub, pair, generation="2.5", quant="Q4_K_M"):
    spec = hub_catalog.hub_pair(generation, quant)
    hub.add_path(spec.repo, spec.llm_file, pair[0])
    hub.add_path(spec.repo, spec.projector_file, pair[1])
    return spec


class Recorder(Reporter):
    def __init__(self):
        self.started, self.done = {}, {}

    def start(self, label, total, initial=0):
        self.started[label] = (total, initial)
        self.done.setdefault(label, initial)

    def advance(self, label, count):
        self.done[label] = self.done.get(label, 0) + count


def test_catalog_defaults_and_quant_spelling():
    spec = hub_catalog.hub_pair()
    assert (spec.generation_id, spec.quant, spec.repo) == ("2.5", "Q4_K_M", REPO_25)
    assert (spec.llm_file, spec.projector_file) == ("ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    assert hub_catalog.hub_pair("o-2.6", "q8_0").llm_file == "Model-7.6B-Q8_0.gguf"
    with pytest.raises(InputError, match="no Q9_X file"):
        hub_catalog.hub_pair("2.6", "Q9_X")
    with pytest.raises(InputError, match="not supported"):
        hub_catalog.hub_pair("2.0")
    with pytest.raises(InputError, match="unknown MiniCPM-V generation"):
        hub_catalog.hub_pair("9.9")


def test_fetch_pair_lands_in_the_cache_and_is_byte_identical(hf_server, environ, tiny_pair_25):
    spec = serve_pair(hf_server, tiny_pair_25)
    progress = Recorder()
    fetched = fetch_pair(spec, environ, progress=progress)
    assert fetched.llm.read_bytes() == tiny_pair_25[0].read_bytes()
    assert fetched.projector.read_bytes() == tiny_pair_25[1].read_bytes()
    cache_root = Path(environ["HF_HUB_CACHE"])
    assert cache_root in fetched.llm.parents and fetched.llm.name == spec.llm_file
    # Both LFS files went HEAD on the Hub, then GET on the "CDN".
    heads = [r.path for r in hf_server.requests if r.method == "HEAD"]
    assert heads == [f"/{REPO_25}/resolve/main/{spec.projector_file}", f"/{REPO_25}/resolve/main/{spec.llm_file}"]
    assert [r.path for r in hf_server.gets()] == [f"/cdn/{REPO_25}/{spec.projector_file}", f"/cdn/{REPO_25}/{spec.llm_file}"]
    # Progress saw every byte of both files.
    assert progress.done[spec.llm_file] == tiny_pair_25[0].stat().st_size
    assert progress.done[spec.projector_file] == tiny_pair_25[1].stat().st_size
    # The verified digest is remembered: create will not hash it again.
    expected = "sha256:" + hashlib.sha256(tiny_pair_25[0].read_bytes()).hexdigest()
    assert DigestCache.for_environment(environ).lookup(fetched.llm) == expected


def test_second_fetch_and_find_use_the_cache_without_downloading(hf_server, environ, tiny_pair_25):
    spec = serve_pair(hf_server, tiny_pair_25)
    first = fetch_pair(spec, environ)
    gets = len(hf_server.gets())
    again = fetch_pair(spec, environ)
    assert (again.llm, again.projector) == (first.llm, first.projector)
    assert len(hf_server.gets()) == gets  # HEAD only: nothing downloaded again
    hf_server.stop()  # no network at all from here on
    assert find_cached_pair(environ=environ) == (first.llm, first.projector)
    assert find_cached_pair("2.5", "q4_k_m", environ) == (first.llm, first.projector)
    assert find_cached_pair("2.6", environ=environ) is None
    assert find_cached_pair("2.5", "Q6_K", environ) is None


def test_find_cached_pair_needs_both_files(hf_server, environ, tiny_pair_25):
    spec = serve_pair(hf_server, tiny_pair_25)
    download_file(spec.repo, spec.projector_file, HubSettings.from_environ(environ), environ=environ)
    assert find_cached_pair(environ=environ) is None


def test_find_cached_pair_looks_at_other_generations(hf_server, environ, tiny_pair_26):
    spec = serve_pair(hf_server, tiny_pair_26, generation="2.6")
    fetched = fetch_pair(spec, environ)
    assert find_cached_pair(environ=environ) == (fetched.llm, fetched.projector)


def test_dropped_connection_resumes_with_a_range_request(hf_server, environ):
    data = os.urandom(24 * 1024 * 1024)  # > huggingface_hub's 10 MiB read chunk
    hf_server.add_file("openbmb/big", "ggml-model-Q4_K_M.gguf", data).drop_after = 13 * 1024 * 1024
    path = download_file("openbmb/big", "ggml-model-Q4_K_M.gguf", HubSettings.from_environ(environ), environ=environ)
    assert path.read_bytes() == data
    gets = hf_server.gets("ggml-model-Q4_K_M.gguf")
    assert len(gets) == 2
    assert "range" not in gets[0].headers
    resumed_at = int(gets[1].headers["range"].removeprefix("bytes=").rstrip("-"))
    assert 0 < resumed_at <= 13 * 1024 * 1024


def test_checksum_mismatch_fails_and_leaves_nothing_in_the_cache(hf_server, environ):
    hf_server.add_file("openbmb/bad", "mmproj-model-f16.gguf", os.urandom(100_000)).corrupt = True
    settings = HubSettings.from_environ(environ)
    with pytest.raises(BackendError, match="is corrupt: sha256 .* does not match the advertised") as caught:
        download_file("openbmb/bad", "mmproj-model-f16.gguf", settings, environ=environ)
    assert "re-download" in caught.value.hint
    leftovers = [p for p in Path(environ["HF_HUB_CACHE"]).rglob("*") if p.is_file() or p.is_symlink()]
    assert [p for p in leftovers if "blobs" in p.parts or "snapshots" in p.parts] == []
    assert hf_fetch.cached_file("openbmb/bad", "mmproj-model-f16.gguf", settings) is None


def test_small_git_files_are_not_treated_as_lfs(hf_server, environ):
    hf_server.add_file("openbmb/x", "README.md", b"# hello\n", lfs=False)
    path = download_file("openbmb/x", "README.md", HubSettings.from_environ(environ), environ=environ)
    assert path.read_bytes() == b"# hello\n"


def test_missing_repo_file_offline_and_unreachable(hf_server, environ, monkeypatch):
    import huggingface_hub.utils._http as hf_http

    sleeps = []
    monkeypatch.setattr(hf_http.time, "sleep", sleeps.append)  # huggingface_hub's retry back-off
    settings = HubSettings.from_environ(environ)
    hf_server.add_file("openbmb/x", "a.gguf", b"x")
    with pytest.raises(BackendError, match="'b.gguf' is not in Hugging Face repository 'openbmb/x'"):
        download_file("openbmb/x", "b.gguf", settings, environ=environ)
    offline = HubSettings(settings.endpoint, settings.cache_dir, offline=True)
    with pytest.raises(InputError, match="HF_HUB_OFFLINE"):
        download_file("openbmb/x", "a.gguf", offline, environ=environ)
    hf_server.stop()
    with pytest.raises(ServerUnavailable, match="cannot reach"):
        download_file("openbmb/x", "a.gguf", settings, environ=environ)
    assert sleeps  # it did retry before giving up


def test_settings_follow_the_environment(tmp_path):
    assert HubSettings.from_environ({"HF_HOME": "/h"}).cache_dir == Path("/h/hub")
    assert HubSettings.from_environ({"HF_HUB_CACHE": "/c", "HF_HOME": "/h"}).cache_dir == Path("/c")
    assert HubSettings.from_environ({"HOME": "/u"}).cache_dir == Path("/u/.cache/huggingface/hub")
    assert HubSettings.from_environ({"XDG_CACHE_HOME": "/x"}).cache_dir == Path("/x/huggingface/hub")
    assert HubSettings.from_environ({}).endpoint == "https://huggingface.co"
    assert HubSettings.from_environ({"HF_ENDPOINT": "http://h/", "HF_HUB_OFFLINE": "1"}) == HubSettings(
        "http://h", HubSettings.from_environ({}).cache_dir, True
    )


def test_hub_retry_warnings_become_one_short_note_each(capsys):
    import logging

    from mcv.packaging.hf_fetch import _hub_log_as_notes

    notes: list[str] = []
    logger = logging.getLogger("huggingface_hub")
    before = logger.handlers[:]
    with _hub_log_as_notes(notes.append):
        logger.warning("'[Errno -2] Name or service not known' thrown while requesting HEAD https://x/y")
        logger.warning("Retrying in 2s [Retry 1/5].")
    assert notes == ["Hugging Face did not answer; retrying in 2s [Retry 1/5]."]
    assert capsys.readouterr().err == ""  # nothing else reached the terminal
    assert logger.handlers == before
