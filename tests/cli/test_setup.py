"""`mcv setup` against the Ollama stand-in and the local Hugging Face Hub: each path, twice."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from support.cli import run_mcv

from mcv.cli.env import Environment
from mcv.cli.main import run
from mcv.packaging import hub_catalog
from mcv.packaging.hf_fetch import fetch_pair

NOTHING = "nothing to do: already set up\n"


@pytest.fixture
def env(mcv_env, tmp_path, hf_environ, ollama_standin):
    return {
        **mcv_env,
        **hf_environ,
        "MCV_STATE_DIR": str(tmp_path / "mcv-state"),
        "OLLAMA_HOST": ollama_standin.url,
        "OLLAMA_MODELS": str(tmp_path / "no-ollama-store"),
    }


def serve(hf_server, pair, generation="2.5"):
    spec = hub_catalog.hub_pair(generation)
    hf_server.add_path(spec.repo, spec.llm_file, pair[0])
    hf_server.add_path(spec.repo, spec.projector_file, pair[1])
    return spec


def changes(standin):
    return [(r.method, r.path) for r in standin.requests if r.method in ("POST", "DELETE") and r.path != "/api/show"]


def test_model_already_there_means_nothing_to_do(env, ollama_standin):
    ollama_standin.add_model("minicpm-v")
    result = run_mcv(["setup"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(NOTHING)
    assert "mcv ask IMAGE" in result.stdout
    assert changes(ollama_standin) == []


def test_pulls_from_the_library_once(env, ollama_standin, hf_server):
    ollama_standin.add_library_model("minicpm-v")
    first = run_mcv(["setup"], environ=env)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("pulled minicpm-v from the Ollama library\n")
    assert ollama_standin.find("minicpm-v") is not None
    second = run_mcv(["setup"], environ=env)
    assert second.exit_code == 0 and second.stdout.startswith(NOTHING)
    assert len(ollama_standin.requests_to("/api/pull")) == 1
    assert hf_server.requests == []  # the Hub was never needed


def test_creates_from_a_pair_already_in_the_hf_cache(env, ollama_standin, hf_server, tiny_pair_25):
    fetch_pair(serve(hf_server, tiny_pair_25), env)
    hf_server.stop()  # from here on, no network
    first = run_mcv(["setup"], environ=env)
    assert first.exit_code == 0, first.stderr
    assert first.stdout.startswith("created minicpm-v:2.5-q4_K_M, minicpm-v:latest in Ollama from ggml-model-Q4_K_M.gguf")
    assert ollama_standin.requests_to("/api/pull") == []
    assert "vision" in ollama_standin.find("minicpm-v").capabilities
    second = run_mcv(["setup"], environ=env)
    assert second.stdout.startswith(NOTHING)
    assert len(ollama_standin.requests_to("/api/create")) == 2


def test_generation_flag_fetches_then_creates(env, ollama_standin, hf_server, tiny_pair_26):
    serve(hf_server, tiny_pair_26, "2.6")
    result = run_mcv(["setup", "--generation", "2.6", "--model", "mini"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "downloaded openbmb/MiniCPM-V-2_6-gguf: ggml-model-Q4_K_M.gguf, mmproj-model-f16.gguf",
        "created mini:2.6-q4_K_M, mini:latest in Ollama from ggml-model-Q4_K_M.gguf",
    ]
    assert run_mcv(["setup", "--generation", "2.6", "--model", "mini"], environ=env).stdout.startswith(NOTHING)


def test_without_ollama_prepares_the_in_process_pair(env, ollama_standin, hf_server, tiny_pair_25):
    serve(hf_server, tiny_pair_25)
    ollama_standin.stop()
    first = run_mcv(["setup", "--yes"], environ=env)
    assert first.exit_code == 0, first.stderr
    lines = first.stdout.splitlines()
    assert lines[0] == "downloaded openbmb/MiniCPM-Llama3-V-2_5-gguf: ggml-model-Q4_K_M.gguf, mmproj-model-f16.gguf"
    assert any("Ollama is not running" in line and "in process" in line for line in lines)
    llm = Path(next(line.split(":", 1)[1].strip() for line in lines if line.strip().startswith("LLM:")))
    assert llm.read_bytes() == tiny_pair_25[0].read_bytes()
    assert lines[-1] == "mcv ask --backend llama IMAGE 'question'"

    gets = len(hf_server.gets())
    second = run_mcv(["setup"], environ=env)
    assert second.exit_code == 0 and second.stdout.startswith(NOTHING)
    assert len(hf_server.gets()) == gets


def test_without_ollama_uses_a_model_in_ollamas_store(env, ollama_standin, hf_server, tiny_pair_25, tmp_path):
    models = Path(env["OLLAMA_MODELS"])
    layers = []
    for kind, path in (("model", tiny_pair_25[0]), ("projector", tiny_pair_25[1])):
        data = path.read_bytes()
        hex_ = hashlib.sha256(data).hexdigest()
        (models / "blobs").mkdir(parents=True, exist_ok=True)
        (models / "blobs" / f"sha256-{hex_}").write_bytes(data)
        layers.append({"mediaType": f"application/vnd.ollama.image.{kind}", "digest": f"sha256:{hex_}", "size": len(data)})
    manifest = models / "manifests" / "registry.ollama.ai" / "library" / "minicpm-v" / "latest"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"schemaVersion": 2, "layers": layers}))
    ollama_standin.stop()
    result = run_mcv(["setup"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(NOTHING)
    assert str(models / "blobs") in result.stdout
    assert hf_server.requests == []


def test_unknown_name_and_non_vision_model(env, ollama_standin):
    missing = run_mcv(["setup", "--model", "nonesuch"], environ=env)
    assert missing.exit_code == 1
    assert "mcv: error: nonesuch is neither in Ollama nor in the Ollama library" in missing.stderr
    assert "mcv: hint: build it from Hugging Face files: mcv setup --generation 2.5" in missing.stderr
    ollama_standin.add_model("textonly", capabilities=("completion",))
    text = run_mcv(["setup", "--model", "textonly"], environ=env)
    assert text.exit_code == 1 and "has no vision capability" in text.stderr


def test_a_terminal_user_can_decline_the_download(env, ollama_standin, hf_server, tiny_pair_25):
    serve(hf_server, tiny_pair_25)
    ollama_standin.stop()
    terminal = Environment(
        stdin=io.BytesIO(b"n\n"), stdout=io.StringIO(), stderr=io.StringIO(), stdin_isatty=True,
        stdout_isatty=True, stderr_isatty=True, environ=env, width=100,
    )
    assert run(["setup"], terminal) == 2
    asked = terminal.stderr.getvalue()
    assert "Download ggml-model-Q4_K_M.gguf and mmproj-model-f16.gguf" in asked and "set-up cancelled" in asked
    assert hf_server.gets() == []
