"""Getting the GGUF pair from a (local) Hugging Face Hub into the HF cache, and finding it there.

The files are picked from the repo's listing by role and quantisation, never
by a recorded name: the tests serve the naming styles found in the wild.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from support.net import closed_port

from mcv.errors import (
    EXIT_BACKEND,
    EXIT_USAGE,
    BackendError,
    InputError,
    ServerUnavailable,
)
from mcv.packaging import hf_fetch, hub_catalog
from mcv.packaging.digest import DigestCache
from mcv.packaging.events import Reporter
from mcv.packaging.hf_fetch import (
    HubSettings,
    download_file,
    fetch_pair,
    find_cached_pair,
    hub_pair,
)

REPO_25 = "openbmb/MiniCPM-Llama3-V-2_5-gguf"
REPO_46 = "openbmb/MiniCPM-V-4.6-gguf"

# What the repos publish (see hub_catalog's docstring for the sources).
OPENBMB_25 = ["ggml-model-Q4_K_M.gguf", "ggml-model-Q6_K.gguf", "ggml-model-F16.gguf", "mmproj-model-f16.gguf"]
OPENBMB_46 = [f"MiniCPM-V-4_6-{q}.gguf" for q in ("Q4_K_M", "Q4_K_S", "Q5_K_M", "Q6_K", "Q8_0", "F16")] + [
    "mmproj-model-f16.gguf"
]
GGML_ORG_46 = ["MiniCPM-V-4.6-Q4_K_M.gguf", "MiniCPM-V-4.6-Q8_0.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf"]
REPO_EXTRAS = [".gitattributes", "README.md", "config.json"]


@pytest.fixture
def environ(hf_environ, tmp_path):
    return {**hf_environ, "MCV_STATE_DIR": str(tmp_path / "state")}


def serve(hub, repo, names, pair):
    """Serve `names`: projectors get the pair's mmproj bytes, GGUF LLMs its LLM, the rest text."""
    llm, projector = (Path(p).read_bytes() for p in pair)
    for name in names:
        if not name.endswith(".gguf"):
            hub.add_file(repo, name, b"text\n", lfs=False)
        else:
            hub.add_file(repo, name, projector if "mmproj" in name else llm)


class Recorder(Reporter):
    def __init__(self):
        self.started, self.done, self.notes = {}, {}, []

    def start(self, label, total, initial=0):
        self.started[label] = (total, initial)
        self.done.setdefault(label, initial)

    def advance(self, label, count):
        self.done[label] = self.done.get(label, 0) + count

    def note(self, text):
        self.notes.append(text)


# -- picking by role and quantisation (no I/O) ---------------------------------


@pytest.mark.parametrize(
    ("names", "quant", "expected"),
    [
        (OPENBMB_46, None, ("MiniCPM-V-4_6-Q4_K_M.gguf", "mmproj-model-f16.gguf", "Q4_K_M")),
        (OPENBMB_46, "q8_0", ("MiniCPM-V-4_6-Q8_0.gguf", "mmproj-model-f16.gguf", "Q8_0")),
        (OPENBMB_46, "fp16", ("MiniCPM-V-4_6-F16.gguf", "mmproj-model-f16.gguf", "F16")),
        (GGML_ORG_46, None, ("MiniCPM-V-4.6-Q4_K_M.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf", "Q4_K_M")),
        (GGML_ORG_46, "Q8_0", ("MiniCPM-V-4.6-Q8_0.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf", "Q8_0")),
        (OPENBMB_25, "f16", ("ggml-model-F16.gguf", "mmproj-model-f16.gguf", "F16")),
        (["Model-7.6B-Q4_K_M.gguf", "mmproj-model-f16.gguf"], None, ("Model-7.6B-Q4_K_M.gguf", "mmproj-model-f16.gguf", "Q4_K_M")),
        (["gguf/ggml-model-Q4_K_M.gguf", "gguf/mmproj-model-f16.gguf"], None, ("gguf/ggml-model-Q4_K_M.gguf", "gguf/mmproj-model-f16.gguf", "Q4_K_M")),
    ],
)
def test_pick_by_role_and_quant(names, quant, expected):
    picked = hub_catalog.pick_pair(names + REPO_EXTRAS, quant, "repo")
    assert (picked.llm, picked.projector, picked.quant) == expected


def test_projector_preference_is_f16_bf16_f32_q8_0_then_any():
    llm = "x-Q4_K_M.gguf"
    cases = [
        (["mmproj-Q8_0.gguf", "mmproj-F32.gguf", "mmproj-BF16.gguf", "mmproj-f16.gguf"], "mmproj-f16.gguf"),
        (["mmproj-Q8_0.gguf", "mmproj-F32.gguf", "mmproj-BF16.gguf"], "mmproj-BF16.gguf"),
        (["mmproj-Q4_0.gguf", "mmproj-Q8_0.gguf", "mmproj-F32.gguf"], "mmproj-F32.gguf"),
        (["mmproj-Q4_0.gguf", "mmproj-Q8_0.gguf"], "mmproj-Q8_0.gguf"),
        (["mmproj-Q4_0.gguf"], "mmproj-Q4_0.gguf"),
    ]
    for projectors, expected in cases:
        assert hub_catalog.pick_pair([llm, *projectors], None, "repo").projector == expected


def test_non_ggufs_split_parts_and_projectors_are_not_llms():
    names = [
        "ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf", "ggml-model-Q8_0.safetensors",
        "ggml-model-Q6_K-00001-of-00002.gguf", "ggml-model-Q6_K-00002-of-00002.gguf", "model.gguf",
    ]
    assert hub_catalog.quants_by_preference(names) == ["Q4_K_M"]
    with pytest.raises(InputError, match="has no Q6_K LLM GGUF"):
        hub_catalog.pick_pair(names, "Q6_K", "repo")


def test_missing_quant_lists_what_the_repo_has():
    with pytest.raises(InputError) as caught:
        hub_catalog.pick_pair(OPENBMB_46, "Q2_K", REPO_46)
    assert str(caught.value) == f"{REPO_46} has no Q2_K LLM GGUF"
    assert caught.value.hint == "it has: Q4_K_M, F16, Q4_K_S, Q5_K_M, Q6_K, Q8_0 (choose with --quant)"
    assert caught.value.exit_code == EXIT_USAGE


def test_repos_without_a_usable_pair_are_refused_not_guessed():
    with pytest.raises(BackendError, match="has no projector GGUF") as no_projector:
        hub_catalog.pick_pair(["ggml-model-Q4_K_M.gguf", "README.md"], None, "repo")
    assert no_projector.value.exit_code == EXIT_BACKEND
    with pytest.raises(BackendError, match="has no LLM GGUF with a quantisation in its name") as no_llm:
        hub_catalog.pick_pair(["model.gguf", "mmproj-model-f16.gguf"], None, "repo")
    assert no_llm.value.hint == "its GGUF files: mmproj-model-f16.gguf, model.gguf"
    with pytest.raises(BackendError, match="several Q4_K_M LLM GGUFs: a-Q4_K_M.gguf, b-Q4_K_M.gguf"):
        hub_catalog.pick_pair(["a-Q4_K_M.gguf", "b-Q4_K_M.gguf", "mmproj-f16.gguf"], None, "repo")


def test_generations_refused_and_unknown():
    assert hub_catalog.generation(None).id == "2.5"
    assert [g.id for g in hub_catalog.search_order(None)][:1] == ["2.5"]
    with pytest.raises(InputError, match="not supported"):
        hub_catalog.generation("2.0")
    with pytest.raises(InputError, match="unknown MiniCPM-V generation"):
        hub_catalog.generation("9.9")


# -- listing the Hub --------------------------------------------------------------


def test_hub_pair_lists_the_repo_and_picks_openbmb_names(hf_server, environ, tiny_pair_factory):
    serve(hf_server, REPO_46, OPENBMB_46 + REPO_EXTRAS, tiny_pair_factory("4.6"))
    chosen = hub_pair("4.6", None, environ)
    assert (chosen.generation_id, chosen.repo, chosen.quant) == ("4.6", REPO_46, "Q4_K_M")
    assert (chosen.llm_file, chosen.projector_file) == ("MiniCPM-V-4_6-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    assert chosen.size == sum(p.stat().st_size for p in tiny_pair_factory("4.6"))
    assert [r.path for r in hf_server.listings()] == [f"/api/models/{REPO_46}/tree/main?recursive=true&expand=false"]
    assert hub_pair("4.6", "q8_0", environ).llm_file == "MiniCPM-V-4_6-Q8_0.gguf"


def test_renamed_files_are_still_found_and_downloaded(hf_server, environ, tiny_pair_factory):
    """The repo switching to ggml-org's names must not break fetch (no recorded names)."""
    pair = tiny_pair_factory("4.6")
    serve(hf_server, REPO_46, GGML_ORG_46, pair)
    hf_server.tree_page_size = 2  # the listing spans two pages
    fetched = fetch_pair(hub_pair("4.6", None, environ), environ)
    assert (fetched.llm.name, fetched.projector.name) == ("MiniCPM-V-4.6-Q4_K_M.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf")
    assert fetched.llm.read_bytes() == pair[0].read_bytes()
    assert fetched.projector.read_bytes() == pair[1].read_bytes()
    assert len(hf_server.listings()) == 2
    assert find_cached_pair("4.6", "q4_k_m", environ) == (fetched.llm, fetched.projector)


def test_missing_quant_on_the_hub_names_the_published_ones(hf_server, environ, tiny_pair_25):
    serve(hf_server, REPO_25, OPENBMB_25, tiny_pair_25)
    with pytest.raises(InputError) as caught:
        hub_pair("2.5", "Q9_X", environ)
    assert str(caught.value) == f"{REPO_25} has no Q9_X LLM GGUF"
    assert "it has: Q4_K_M, F16, Q6_K" in caught.value.hint
    assert hf_server.gets("gguf") == []  # nothing downloaded


def test_unknown_repo_and_unreachable_hub(hf_server, environ, monkeypatch):
    import huggingface_hub.utils._http as hf_http

    with pytest.raises(BackendError, match=f"repository '{REPO_25}' not found at {hf_server.url}") as caught:
        hub_pair("2.5", None, environ)
    assert "hf auth login" in caught.value.hint
    sleeps = []
    monkeypatch.setattr(hf_http.time, "sleep", sleeps.append)  # huggingface_hub's retry back-off
    notes: list[str] = []
    nowhere = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(ServerUnavailable, match=f"cannot reach {nowhere} to list {REPO_25}"):
        hub_pair("2.5", None, {**environ, "HF_ENDPOINT": nowhere}, note=notes.append)
    assert sleeps and notes and notes[0].startswith("Hugging Face did not answer; retrying in")


def test_the_standin_speaks_the_tree_protocol_strictly(hf_server, environ):
    """What huggingface_hub itself makes of the stand-in's answers."""
    from huggingface_hub import HfApi
    from huggingface_hub import errors as hf_errors
    from huggingface_hub.hf_api import RepoFile, RepoFolder

    hf_server.add_file("org/repo", "a.gguf", b"x" * 10)
    hf_server.add_file("org/repo", "sub/dir/b.gguf", b"y", lfs=False)
    api = HfApi(endpoint=hf_server.url)
    flat = {e.path: type(e) for e in api.list_repo_tree("org/repo")}
    assert flat == {"a.gguf": RepoFile, "sub": RepoFolder}
    deep = {e.path: e for e in api.list_repo_tree("org/repo", recursive=True)}
    assert sorted(deep) == ["a.gguf", "sub", "sub/dir", "sub/dir/b.gguf"]
    assert deep["a.gguf"].lfs.sha256 == hashlib.sha256(b"x" * 10).hexdigest() and deep["a.gguf"].size == 10
    assert deep["sub/dir/b.gguf"].lfs is None
    assert api.list_repo_files("org/repo") == ["a.gguf", "sub/dir/b.gguf"]
    with pytest.raises(hf_errors.RepositoryNotFoundError):
        api.list_repo_files("org/none")
    with pytest.raises(hf_errors.RevisionNotFoundError):
        api.list_repo_files("org/repo", revision="v9")
    with pytest.raises(hf_errors.RemoteEntryNotFoundError):
        list(api.list_repo_tree("org/repo", "nowhere"))


# -- downloading and the cache --------------------------------------------------------


def test_fetch_pair_lands_in_the_cache_and_is_byte_identical(hf_server, environ, tiny_pair_25):
    serve(hf_server, REPO_25, OPENBMB_25 + REPO_EXTRAS, tiny_pair_25)
    spec = hub_pair(None, None, environ)
    assert (spec.generation_id, spec.quant, spec.repo) == ("2.5", "Q4_K_M", REPO_25)
    progress = Recorder()
    fetched = fetch_pair(spec, environ, progress=progress)
    assert fetched.llm.read_bytes() == tiny_pair_25[0].read_bytes()
    assert fetched.projector.read_bytes() == tiny_pair_25[1].read_bytes()
    cache_root = Path(environ["HF_HUB_CACHE"])
    assert cache_root in fetched.llm.parents and fetched.llm.name == "ggml-model-Q4_K_M.gguf"
    # Both LFS files went HEAD on the Hub, then GET on the "CDN"; nothing else was downloaded.
    heads = [r.path for r in hf_server.requests if r.method == "HEAD"]
    assert heads == [f"/{REPO_25}/resolve/main/mmproj-model-f16.gguf", f"/{REPO_25}/resolve/main/ggml-model-Q4_K_M.gguf"]
    assert [r.path for r in hf_server.gets() if not r.path.startswith("/api/")] == [
        f"/cdn/{REPO_25}/mmproj-model-f16.gguf", f"/cdn/{REPO_25}/ggml-model-Q4_K_M.gguf",
    ]
    # Progress saw every byte of both files.
    assert progress.done["ggml-model-Q4_K_M.gguf"] == tiny_pair_25[0].stat().st_size
    assert progress.done["mmproj-model-f16.gguf"] == tiny_pair_25[1].stat().st_size
    # The verified digest is remembered: create will not hash it again.
    expected = "sha256:" + hashlib.sha256(tiny_pair_25[0].read_bytes()).hexdigest()
    assert DigestCache.for_environment(environ).lookup(fetched.llm) == expected


def test_second_fetch_and_find_use_the_cache_without_downloading(hf_server, environ, tiny_pair_25):
    serve(hf_server, REPO_25, OPENBMB_25, tiny_pair_25)
    spec = hub_pair("2.5", None, environ)
    first = fetch_pair(spec, environ)
    gets = len(hf_server.gets())
    again = fetch_pair(spec, environ)
    assert (again.llm, again.projector) == (first.llm, first.projector)
    assert len(hf_server.gets()) == gets  # HEAD only: nothing downloaded again
    hf_server.stop()  # no network at all from here on
    assert find_cached_pair(environ=environ) == (first.llm, first.projector)
    assert find_cached_pair("2.5", "q4_k_m", environ) == (first.llm, first.projector)
    assert find_cached_pair("2.6", environ=environ) is None
    assert find_cached_pair("2.5", "Q6_K", environ) is None  # published, but not downloaded


def test_offline_fetch_is_served_by_the_cache(hf_server, environ, tiny_pair_25):
    offline = {**environ, "HF_HUB_OFFLINE": "1"}
    with pytest.raises(InputError, match=f"{REPO_25} is not in the Hugging Face cache and HF_HUB_OFFLINE is set"):
        hub_pair("2.5", None, offline)
    serve(hf_server, REPO_25, OPENBMB_25, tiny_pair_25)
    first = fetch_pair(hub_pair("2.5", None, environ), environ)
    requests = len(hf_server.requests)
    spec = hub_pair("2.5", None, offline)
    assert (spec.llm_file, spec.projector_file, spec.size) == ("ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf", None)
    again = fetch_pair(spec, offline)
    assert (again.llm, again.projector) == (first.llm, first.projector)
    assert len(hf_server.requests) == requests  # not one request
    with pytest.raises(InputError, match=f"the cached copy of {REPO_25} has no Q6_K LLM GGUF") as caught:
        hub_pair("2.5", "Q6_K", offline)
    assert caught.value.hint == "it has: Q4_K_M (choose with --quant)"


def test_find_cached_pair_needs_both_files(hf_server, environ, tiny_pair_25):
    serve(hf_server, REPO_25, OPENBMB_25, tiny_pair_25)
    download_file(REPO_25, "ggml-model-Q4_K_M.gguf", HubSettings.from_environ(environ), environ=environ)
    assert find_cached_pair(environ=environ) is None


def test_find_cached_pair_looks_at_other_generations_and_quants(hf_server, environ, tiny_pair_26, tiny_pair_factory):
    serve(hf_server, "openbmb/MiniCPM-V-2_6-gguf", ["ggml-model-Q8_0.gguf", "mmproj-model-f16.gguf"], tiny_pair_26)
    fetched = fetch_pair(hub_pair("2.6", "Q8_0", environ), environ)
    assert find_cached_pair(environ=environ) == (fetched.llm, fetched.projector)
    assert find_cached_pair(quant="q8_0", environ=environ) == (fetched.llm, fetched.projector)
    assert find_cached_pair(quant="Q4_K_M", environ=environ) is None
    # The default generation wins once it is cached too.
    serve(hf_server, REPO_46, OPENBMB_46, tiny_pair_factory("4.6"))
    serve(hf_server, REPO_25, OPENBMB_25, tiny_pair_factory("2.5"))
    fetch_pair(hub_pair("4.6", None, environ), environ)
    default = fetch_pair(hub_pair("2.5", None, environ), environ)
    assert find_cached_pair(environ=environ) == (default.llm, default.projector)


def test_cached_repo_files_follow_refs_main(tmp_path):
    settings = HubSettings("http://unused", tmp_path, offline=True)
    repo_dir = tmp_path / "models--org--name"
    old, new = repo_dir / "snapshots" / ("a" * 40), repo_dir / "snapshots" / ("b" * 40)
    for snapshot, names in ((old, ["old-Q4_K_M.gguf"]), (new, ["sub/new-Q4_K_M.gguf", "mmproj.gguf"])):
        for name in names:
            (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
            (snapshot / name).write_bytes(b"x")
    assert hf_fetch.cached_repo_files("org/name", settings) == {}  # no refs/main: nothing to trust
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("b" * 40)
    (new / "gone.gguf").symlink_to(tmp_path / "missing-blob")
    assert hf_fetch.cached_repo_files("org/name", settings) == {
        "sub/new-Q4_K_M.gguf": new / "sub" / "new-Q4_K_M.gguf", "mmproj.gguf": new / "mmproj.gguf",
    }


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
    assert hf_fetch.cached_repo_files("openbmb/bad", settings) == {}


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


def test_offline_library_setting_is_reported_not_a_traceback(hf_server, environ, monkeypatch):
    """huggingface_hub read HF_HUB_OFFLINE at import, while the environment given to mcv lacks it."""
    import huggingface_hub.constants as hf_constants

    hf_server.add_file(REPO_25, "ggml-model-Q4_K_M.gguf", b"x")
    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError, match=f"cannot list {REPO_25}: HF_HUB_OFFLINE is set"):
        hub_pair("2.5", None, environ)
    assert hf_server.requests == []
