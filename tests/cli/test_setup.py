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
from mcv.core.units import format_bytes
from mcv.packaging import hub_catalog
from mcv.packaging.hf_fetch import fetch_pair, hub_pair

NOTHING = "nothing to do: already set up\n"
REPO_25 = "openbmb/MiniCPM-Llama3-V-2_5-gguf"


@pytest.fixture
def env(mcv_env, tmp_path, hf_environ, ollama_standin):
    return {
        **mcv_env,
        **hf_environ,
        "MCV_STATE_DIR": str(tmp_path / "mcv-state"),
        "OLLAMA_HOST": ollama_standin.url,
        "OLLAMA_MODELS": str(tmp_path / "no-ollama-store"),
    }


def serve(hf_server, pair, generation="2.5", names=("ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")):
    """Publish `pair` in the generation's repo under `names` (llama.cpp's converter names by default)."""
    repo = hub_catalog.generation(generation).hf_repo
    hf_server.add_path(repo, names[0], pair[0])
    hf_server.add_path(repo, names[1], pair[1])
    return repo


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
    serve(hf_server, tiny_pair_25)
    fetch_pair(hub_pair("2.5", None, env), env)
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
    size = format_bytes(sum(p.stat().st_size for p in tiny_pair_25))
    assert f"Download ggml-model-Q4_K_M.gguf and mmproj-model-f16.gguf ({size}) from" in asked
    assert "set-up cancelled" in asked
    assert [r.path for r in hf_server.gets()] == [f"/api/models/{REPO_25}/tree/main?recursive=true&expand=false"]


def test_another_models_name_is_not_answered_by_a_cached_pair(env, ollama_standin, hf_server, tiny_pair_25):
    serve(hf_server, tiny_pair_25)
    fetch_pair(hub_pair("2.5", None, env), env)
    hf_server.requests.clear()
    ollama_standin.add_library_model("llava:13b")
    pulled = run_mcv(["setup", "--model", "llava:13b"], environ=env)
    assert pulled.exit_code == 0, pulled.stderr
    assert pulled.stdout.startswith("pulled llava:13b from the Ollama library\n")
    assert ollama_standin.requests_to("/api/create") == []  # the MiniCPM-V pair was not packaged as llava
    ollama_standin.stop()
    nothing = run_mcv(["setup", "--model", "qwen2.5vl"], environ=env)
    assert nothing.exit_code == 1
    assert "mcv: error: qwen2.5vl is not in Ollama's store and Ollama is not running at" in nothing.stderr
    assert "mcv: hint: start Ollama (`ollama serve`), or fetch MiniCPM-V: mcv setup --generation 2.5" in nothing.stderr
    assert hf_server.requests == []


def test_a_precise_name_fetches_its_generation_and_quant(env, ollama_standin, hf_server, tiny_pair_factory):
    pair = tiny_pair_factory("4.6", quant_label="Q8_0")
    serve(hf_server, tiny_pair_factory("4.6"), "4.6", ("MiniCPM-V-4.6-Q4_K_M.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf"))
    serve(hf_server, pair, "4.6", ("MiniCPM-V-4.6-Q8_0.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf"))  # ggml-org's names
    result = run_mcv(["setup", "--model", "minicpm-v:4.6-q8_0"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "downloaded openbmb/MiniCPM-V-4.6-gguf: MiniCPM-V-4.6-Q8_0.gguf, mmproj-MiniCPM-V-4.6-Q8_0.gguf",
        "created minicpm-v:4.6-q8_0 in Ollama from MiniCPM-V-4.6-Q8_0.gguf",
    ]
    assert run_mcv(["setup", "--model", "minicpm-v:4.6-q8_0"], environ=env).stdout.startswith(NOTHING)


def test_without_ollama_an_explicit_generation_says_which_name_runs_it(env, ollama_standin, hf_server, tiny_pair_25, tiny_pair_26):
    serve(hf_server, tiny_pair_25)
    serve(hf_server, tiny_pair_26, "2.6")
    fetch_pair(hub_pair("2.5", None, env), env)  # `minicpm-v` will mean this one (2.5 first)
    ollama_standin.stop()
    result = run_mcv(["setup", "--generation", "2.6"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "downloaded openbmb/MiniCPM-V-2_6-gguf: ggml-model-Q4_K_M.gguf, mmproj-model-f16.gguf"
    assert result.stdout.splitlines()[-1] == "mcv ask --backend llama -m minicpm-v:2.6-q4_K_M IMAGE 'question'"
