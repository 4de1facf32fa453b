"""--backend auto|ollama|llama against the Ollama stand-in and real tiny GGUF pairs."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from mcv.core.backends.base import ChatRequest, Message
from mcv.core.backends.select import find_local_pair, open_backend
from mcv.errors import BackendError, ServerUnavailable, UsageError
from support.net import closed_port


@pytest.fixture
def environ(tmp_path):
    """No real Ollama store, HF cache or daemon of the developer leaks in."""
    return {
        "HOME": str(tmp_path / "home"),
        "OLLAMA_MODELS": str(tmp_path / "ollama-models"),
        "HF_HUB_CACHE": str(tmp_path / "hf-cache"),
        "OLLAMA_HOST": f"127.0.0.1:{closed_port()}",
    }


@pytest.fixture
def pair(tiny_pair_factory):
    return tiny_pair_factory("2.5")


def config_for(pair, **extra):
    return {"llama.model": str(pair[0]), "llama.mmproj": str(pair[1]), **extra}


def write_ollama_store(models_dir: Path, name: str, pair) -> tuple[Path, Path]:
    """An Ollama store holding `pair` as model `name` (manifest + sha256 blobs)."""
    layers, paths = [], []
    for path, media in ((pair[0], "model"), (pair[1], "projector")):
        data = Path(path).read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        blob = models_dir / "blobs" / f"sha256-{digest}"
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        paths.append(blob)
        layers.append({"mediaType": f"application/vnd.ollama.image.{media}", "digest": f"sha256:{digest}", "size": len(data)})
    manifest = models_dir / "manifests" / "registry.ollama.ai" / "library" / name / "latest"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    return paths[0], paths[1]


def write_hf_cache(cache: Path, pair) -> tuple[Path, Path]:
    """The layout huggingface_hub leaves after downloading the 2.5 pair."""
    repo = cache / "models--openbmb--MiniCPM-Llama3-V-2_5-gguf"
    revision = "0" * 40
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(revision)
    llm = snapshot / "ggml-model-Q4_K_M.gguf"
    projector = snapshot / "mmproj-model-f16.gguf"
    shutil.copyfile(pair[0], llm)
    shutil.copyfile(pair[1], projector)
    return llm, projector


def test_auto_uses_ollama_when_it_has_the_model(ollama_standin, environ, pair):
    ollama_standin.add_model("minicpm-v")
    environ["OLLAMA_HOST"] = ollama_standin.url
    backend = open_backend("auto", model="minicpm-v", environ=environ, config=config_for(pair))
    try:
        assert backend.name == "ollama"
        assert backend.capabilities("minicpm-v").vision
    finally:
        backend.close()


def test_auto_falls_back_when_ollama_lacks_the_model(ollama_standin, environ, pair):
    ollama_standin.add_model("llava")
    environ["OLLAMA_HOST"] = ollama_standin.url
    backend = open_backend("auto", model="minicpm-v", environ=environ, config=config_for(pair))
    with backend:
        assert backend.name == "llama" and backend.llm_path == Path(pair[0])
    shows = ollama_standin.requests_to("/api/show")
    assert [r.json["model"] for r in shows] == ["minicpm-v"]


def test_auto_falls_back_when_ollama_is_down_and_answers(ollama_standin, environ, pair):
    ollama_standin.add_model("minicpm-v")
    environ["OLLAMA_HOST"] = ollama_standin.url
    ollama_standin.stop()
    with open_backend("auto", model="minicpm-v", environ=environ, config=config_for(pair, **{"llama.n_ctx": 1024})) as backend:
        assert backend.name == "llama" and backend.n_ctx == 1024
        request = ChatRequest(model="minicpm-v", messages=[Message("user", "Hi")], options={"num_predict": 2})
        assert list(backend.chat(request))[-1].done


def test_auto_with_nothing_says_how_to_get_a_model(environ):
    with pytest.raises(BackendError) as caught:
        open_backend("auto", model="minicpm-v", environ=environ, config={})
    assert "no local GGUF pair" in caught.value.message
    for advice in ("ollama serve", "mcv setup", "mcv model fetch"):
        assert advice in caught.value.hint


def test_forced_ollama_never_falls_back(environ, pair):
    backend = open_backend("ollama", model="minicpm-v", environ=environ, config=config_for(pair))
    try:
        assert backend.name == "ollama"
        with pytest.raises(ServerUnavailable):
            backend.capabilities("minicpm-v")
    finally:
        backend.close()


def test_forced_llama_never_contacts_the_daemon(ollama_standin, environ, pair):
    ollama_standin.add_model("minicpm-v")
    environ["OLLAMA_HOST"] = ollama_standin.url
    with open_backend("llama", model="minicpm-v", environ=environ, config=config_for(pair)) as backend:
        assert backend.name == "llama"
    assert ollama_standin.requests == []


def test_forced_llama_without_a_pair_is_an_error(environ):
    with pytest.raises(BackendError, match="no local GGUF pair"):
        open_backend("llama", model="minicpm-v", environ=environ, config={})


def test_pair_from_the_ollama_store(environ, pair):
    llm, projector = write_ollama_store(Path(environ["OLLAMA_MODELS"]), "minicpm-v", pair)
    found = find_local_pair("minicpm-v", environ, {})
    assert (found.llm, found.projector, found.source) == (llm, projector, "ollama store")
    with open_backend("auto", model="minicpm-v", environ=environ, config={}) as backend:
        assert backend.llm_path == llm and backend.generation.id == "2.5"
    assert find_local_pair("other-model", environ, {}) is None


def test_pair_from_the_hugging_face_cache(environ, pair):
    llm, projector = write_hf_cache(Path(environ["HF_HUB_CACHE"]), pair)
    found = find_local_pair("minicpm-v", environ, {})
    assert (found.llm, found.projector, found.source) == (llm, projector, "hugging face cache")


def test_config_beats_store_beats_cache(environ, pair, tiny_pair_factory):
    write_hf_cache(Path(environ["HF_HUB_CACHE"]), pair)
    stored = write_ollama_store(Path(environ["OLLAMA_MODELS"]), "minicpm-v", pair)
    assert find_local_pair("minicpm-v", environ, {}).llm == stored[0]
    other = tiny_pair_factory("2.6")
    assert find_local_pair("minicpm-v", environ, config_for(other)).llm == Path(other[0])


@pytest.mark.parametrize(
    "config, message",
    [
        ({"llama.model": "/x.gguf"}, "llama.mmproj is not set"),
        ({"llama.mmproj": "/x.gguf"}, "llama.model is not set"),
        ({"llama.model": "/no/such.gguf", "llama.mmproj": "/no/such2.gguf"}, "not a file"),
    ],
)
def test_bad_config_is_a_usage_error(environ, config, message):
    with pytest.raises(UsageError, match=message):
        open_backend("llama", model="minicpm-v", environ=environ, config=config)


def test_unknown_kind(environ):
    with pytest.raises(UsageError, match="unknown backend"):
        open_backend("vllm", model="minicpm-v", environ=environ, config={})


def test_selecting_imports_no_llama_cpp(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from mcv.core.backends.select import open_backend\n"
        "assert 'llama_cpp' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr
