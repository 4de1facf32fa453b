"""Ollama's store on disk: names -> manifests -> LLM and projector blobs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from mcv.errors import InputError, ModelNotFound
from mcv.packaging import store
from mcv.core.ollama.names import ModelName


def _blob(models: Path, data: bytes) -> dict:
    hex_ = hashlib.sha256(data).hexdigest()
    blobs = models / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    (blobs / f"sha256-{hex_}").write_bytes(data)
    return {"digest": f"sha256:{hex_}", "size": len(data)}


def make_model(models: Path, relpath: str, *, projector: bool = True, extra_llm: bool = False) -> tuple[Path, Path | None]:
    """Write a manifest like Ollama's (config + model + projector + template layers)."""
    config = _blob(models, b'{"model_format":"gguf"}')
    llm = _blob(models, b"GGUF llm " + relpath.encode())
    layers = [{"mediaType": store.MEDIA_MODEL, **llm}]
    proj = None
    if projector:
        proj = _blob(models, b"GGUF projector " + relpath.encode())
        layers.append({"mediaType": store.MEDIA_PROJECTOR, **proj})
    if extra_llm:
        layers.append({"mediaType": store.MEDIA_MODEL, **_blob(models, b"second model layer")})
    layers.append({"mediaType": "application/vnd.ollama.image.template", **_blob(models, b"{{ .Prompt }}")})
    manifest = models / "manifests" / relpath
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"mediaType": "application/vnd.docker.container.image.v1+json", **config},
                "layers": layers,
            }
        )
    )
    llm_path = models / "blobs" / ("sha256-" + llm["digest"][7:])
    proj_path = models / "blobs" / ("sha256-" + proj["digest"][7:]) if proj else None
    return llm_path, proj_path


@pytest.mark.parametrize(
    "text, expected",
    [
        ("minicpm-v", ("registry.ollama.ai", "library", "minicpm-v", "latest")),
        ("minicpm-v:latest", ("registry.ollama.ai", "library", "minicpm-v", "latest")),
        ("minicpm-v:2.5-q4_K_M", ("registry.ollama.ai", "library", "minicpm-v", "2.5-q4_K_M")),
        ("openbmb/minicpm-v4.7:q4", ("registry.ollama.ai", "openbmb", "minicpm-v4.7", "q4")),
        ("hf.co/openbmb/MiniCPM-V-2_6-gguf:Q4_K_M", ("hf.co", "openbmb", "MiniCPM-V-2_6-gguf", "Q4_K_M")),
        ("localhost:5000/ns/model", ("localhost:5000", "ns", "model", "latest")),
        ("localhost:5000/ns/model:v1", ("localhost:5000", "ns", "model", "v1")),
    ],
)
def test_name_forms(text, expected):
    name = ModelName.parse(text)
    assert (name.host, name.namespace, name.model, name.tag) == expected


@pytest.mark.parametrize("bad", ["", "a/b/c/d", "../x", "model:", "mo del", "x/../../etc"])
def test_bad_names_are_input_errors(bad):
    with pytest.raises(InputError):
        ModelName.parse(bad)


def test_short_names_match_ollama_list():
    assert ModelName.parse("minicpm-v").short() == "minicpm-v:latest"
    assert ModelName.parse("user/m:t").short() == "user/m:t"
    assert ModelName.parse("hf.co/u/m:t").short() == "hf.co/u/m:t"


@pytest.mark.parametrize(
    "name, relpath",
    [
        ("minicpm-v", "registry.ollama.ai/library/minicpm-v/latest"),
        ("minicpm-v:latest", "registry.ollama.ai/library/minicpm-v/latest"),
        ("minicpm-v:2.5-q4_K_M", "registry.ollama.ai/library/minicpm-v/2.5-q4_K_M"),
        ("user/model:tag", "registry.ollama.ai/user/model/tag"),
        ("hf.co/openbmb/MiniCPM-V-2_6-gguf:Q4_K_M", "hf.co/openbmb/MiniCPM-V-2_6-gguf/Q4_K_M"),
    ],
)
def test_model_files_follow_the_manifest(tmp_path, name, relpath):
    llm, proj = make_model(tmp_path, relpath)
    make_model(tmp_path, "registry.ollama.ai/library/other/latest")  # a neighbour, not picked
    assert store.model_files(name, tmp_path) == (llm, proj)


def test_names_match_case_insensitively(tmp_path):
    llm, proj = make_model(tmp_path, "registry.ollama.ai/library/MiniCPM-V/Latest")
    assert store.model_files("minicpm-v", tmp_path) == (llm, proj)


def test_ollama_models_env_and_home_default(tmp_path):
    llm, proj = make_model(tmp_path / "custom", "registry.ollama.ai/library/minicpm-v/latest")
    assert store.model_files("minicpm-v", environ={"OLLAMA_MODELS": str(tmp_path / "custom")}) == (llm, proj)
    home_llm, home_proj = make_model(tmp_path / "home" / ".ollama" / "models", "registry.ollama.ai/library/m/t")
    assert store.model_files("m:t", environ={"HOME": str(tmp_path / "home")}) == (home_llm, home_proj)


def test_absent_model_and_text_only_model_give_none(tmp_path):
    make_model(tmp_path, "registry.ollama.ai/library/llama3/latest", projector=False)
    assert store.model_files("minicpm-v", tmp_path) is None
    assert store.model_files("llama3", tmp_path) is None
    with pytest.raises(ModelNotFound, match="not in the Ollama store"):
        store.read_model("minicpm-v", tmp_path)
    assert store.read_model("llama3", tmp_path).projector is None


def test_first_model_layer_is_the_llm(tmp_path):
    llm, proj = make_model(tmp_path, "registry.ollama.ai/library/m/latest", extra_llm=True)
    assert store.model_files("m", tmp_path) == (llm, proj)


def test_missing_blob_is_reported(tmp_path):
    llm, _ = make_model(tmp_path, "registry.ollama.ai/library/m/latest")
    llm.unlink()
    with pytest.raises(InputError, match="is missing"):
        store.model_files("m", tmp_path)


def test_wrong_size_and_garbage_manifest_are_reported(tmp_path):
    llm, _ = make_model(tmp_path, "registry.ollama.ai/library/m/latest")
    llm.write_bytes(b"short")
    with pytest.raises(InputError, match="manifest says"):
        store.model_files("m", tmp_path)
    bad = tmp_path / "manifests" / "registry.ollama.ai" / "library" / "bad" / "latest"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(InputError, match="unreadable Ollama manifest"):
        store.model_files("bad", tmp_path)
