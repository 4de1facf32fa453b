"""Which engine answers: --backend auto|ollama|llama against the Ollama stand-in and real tiny GGUF pairs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mcv.core.backends.base import ChatRequest, Message, Parameters
from mcv.core.routing import open_route
from mcv.core.settings import Settings
from mcv.errors import InputError, ModelNotFound, ServerUnavailable, UsageError
from support.net import closed_port


@pytest.fixture
def environ(mcv_env):
    """No daemon at the Ollama address unless a test points it at the stand-in."""
    return {**mcv_env, "OLLAMA_HOST": f"127.0.0.1:{closed_port()}"}


@pytest.fixture
def pair(tiny_pair_factory):
    return tiny_pair_factory("2.5")


def settings(environ, backend="auto", pair=None, **flags):
    if pair is not None:
        environ = {**environ, "MCV_LLAMA_MODEL": str(pair[0]), "MCV_LLAMA_MMPROJ": str(pair[1])}
    return Settings.load(environ, flags={"backend": backend, **flags})


def test_auto_uses_ollama_when_it_has_the_model(ollama_standin, environ, pair):
    ollama_standin.add_model("minicpm-v")
    environ["OLLAMA_HOST"] = ollama_standin.url
    route, backend = open_route(settings(environ, pair=pair), "minicpm-v")
    with backend:
        assert (route.backend, route.pair, route.fallback_from) == ("ollama", None, None)
        assert backend.capabilities("minicpm-v").vision
    # One /api/show decided it, and the backend keeps the answer for the vision check.
    assert len(ollama_standin.requests_to("/api/show")) == 1


def test_auto_falls_back_when_ollama_lacks_the_model(ollama_standin, environ, pair):
    ollama_standin.add_model("llava")
    environ["OLLAMA_HOST"] = ollama_standin.url
    route, backend = open_route(settings(environ, pair=pair), "minicpm-v")
    with backend:
        assert route.backend == "llama" and backend.llm_path == Path(pair[0])
        assert route.fallback_from.startswith("model 'minicpm-v' is not in Ollama at")
    assert [r.json["model"] for r in ollama_standin.requests_to("/api/show")] == ["minicpm-v"]


@pytest.mark.slow
def test_auto_falls_back_when_ollama_is_down_and_answers(environ, pair):
    route, backend = open_route(settings(environ, pair=pair, **{"llama.n_ctx": 1024}), "minicpm-v")
    with backend:
        assert route.backend == "llama" and backend.n_ctx == 1024
        assert "not running" in route.fallback_from
        request = ChatRequest([Message("user", "Hi")], Parameters(model="minicpm-v", options={"num_predict": 2}))
        assert list(backend.chat(request))[-1].done


def test_the_configured_pair_is_only_the_configured_model(environ, pair):
    with pytest.raises(ServerUnavailable) as caught:
        open_route(settings(environ, pair=pair), "llava:13b")
    assert "no local GGUF pair for 'llava:13b'" in caught.value.message
    environ["MCV_MODEL"] = "my-vision"
    route, backend = open_route(settings(environ, pair=pair), "my-vision:latest")  # the same name to Ollama
    with backend:
        assert route.pair.source == "config"


def test_auto_with_nothing_says_how_to_get_a_model(environ):
    with pytest.raises(ServerUnavailable) as caught:
        open_route(settings(environ), "minicpm-v")
    assert "Ollama is not running at" in caught.value.message
    for advice in ("ollama serve", "mcv model fetch", "llama.model"):
        assert advice in caught.value.hint


def test_forced_ollama_never_falls_back(environ, pair):
    with pytest.raises(ServerUnavailable) as caught:
        open_route(settings(environ, "ollama", pair=pair), "minicpm-v")
    assert "no local GGUF pair" not in caught.value.message


def test_forced_llama_never_contacts_the_daemon(ollama_standin, environ, pair):
    ollama_standin.add_model("minicpm-v")
    environ["OLLAMA_HOST"] = ollama_standin.url
    route, backend = open_route(settings(environ, "llama", pair=pair), "minicpm-v")
    with backend:
        assert route.backend == "llama" and route.fallback_from is None
    assert ollama_standin.requests == []


def test_forced_llama_without_a_pair_is_an_error(environ):
    with pytest.raises(ModelNotFound, match="no local GGUF pair for 'minicpm-v'"):
        open_route(settings(environ, "llama"), "minicpm-v")


def test_a_folder_holding_a_pair_is_a_model(environ, pair):
    route, backend = open_route(settings(environ, "llama"), str(Path(pair[0]).parent) + "/")
    with backend:
        assert (route.pair.source, route.pair.llm, route.pair.projector) == ("path", Path(pair[0]), Path(pair[1]))


@pytest.mark.parametrize(
    "config, message",
    [
        ({"MCV_LLAMA_MODEL": "/x.gguf"}, "llama.mmproj is not set"),
        ({"MCV_LLAMA_MMPROJ": "/x.gguf"}, "llama.model is not set"),
        ({"MCV_LLAMA_MODEL": "/no/such.gguf", "MCV_LLAMA_MMPROJ": "/no/such2.gguf"}, "not a file"),
    ],
)
def test_bad_config_is_a_usage_error(environ, config, message):
    with pytest.raises(UsageError, match=message):
        open_route(settings({**environ, **config}, "llama"), "minicpm-v")


def test_unknown_backend(environ):
    with pytest.raises(UsageError, match="unknown backend 'vllm'") as caught:
        open_route(settings(environ, "vllm"), "minicpm-v")
    assert caught.value.hint == "choose auto, ollama, llama, openai"


def test_opening_the_in_process_engine_loads_no_llama_cpp_until_it_answers(environ, pair):
    code = (
        "import sys; from mcv.core.routing import open_route; from mcv.core.settings import Settings\n"
        "route, backend = open_route(Settings.load(), 'minicpm-v')\n"
        "assert route.backend == 'llama', route\n"
        "print(sorted(m for m in ('llama_cpp', 'numpy', 'gguf') if m in sys.modules))\n"
    )
    env = {**os.environ, **environ, "MCV_BACKEND": "llama", "MCV_LLAMA_MODEL": str(pair[0]), "MCV_LLAMA_MMPROJ": str(pair[1])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_naming_one_gguf_takes_its_projector_among_several_quants(environ, pair, tmp_path):
    """After fetching two quantisations a folder holds two LLMs and one projector."""
    import shutil

    folder = tmp_path / "two-quants"
    folder.mkdir()
    for name, src in (("ggml-model-Q4_K_M.gguf", pair[0]), ("ggml-model-Q8_0.gguf", pair[0]), ("mmproj-model-f16.gguf", pair[1])):
        shutil.copyfile(src, folder / name)
    route, backend = open_route(settings(environ, "llama"), str(folder / "ggml-model-Q8_0.gguf"))
    with backend:
        assert (route.pair.llm.name, route.pair.projector.name) == ("ggml-model-Q8_0.gguf", "mmproj-model-f16.gguf")
    with pytest.raises(InputError, match="several LLM files") as caught:
        open_route(settings(environ, "llama"), f"{folder}/")  # the folder alone is ambiguous
    assert caught.value.hint == "name the LLM file: -m FOLDER/FILE.gguf"
    with pytest.raises(InputError, match="several LLMs beside this projector") as caught:
        open_route(settings(environ, "llama"), str(folder / "mmproj-model-f16.gguf"))
    assert caught.value.hint == "name the LLM file instead"


def test_an_existing_folder_named_like_a_model_is_not_taken_for_a_path(ollama_standin, environ, pair, tmp_path, monkeypatch):
    import shutil

    (tmp_path / "mypair").mkdir()
    for src in pair:
        shutil.copy(src, tmp_path / "mypair")
    monkeypatch.chdir(tmp_path)
    environ["OLLAMA_HOST"] = ollama_standin.url
    with pytest.raises(ModelNotFound) as caught:
        open_route(settings(environ), "mypair")
    assert caught.value.hint.startswith("to run the GGUF pair in the folder 'mypair', write it as ./mypair/")
    asked = len(ollama_standin.requests)
    route, backend = open_route(settings(environ), "mypair/")
    with backend:
        assert route.pair.source == "path" and len(ollama_standin.requests) == asked  # a path skips the daemon


def test_another_model_in_the_ollama_store_with_the_daemon_down(environ, tiny_pair_factory):
    """llava pulled into Ollama, daemon stopped: its files are no MiniCPM-V pair, and the error says both things."""
    from mcv.packaging.local_pairs import SOURCES
    from support.ollama_store import write_store_model

    llm25, _ = tiny_pair_factory("2.5")
    _, projector26 = tiny_pair_factory("2.6")  # a pair that does not belong together stands in for llava's files
    write_store_model(Path(environ["OLLAMA_MODELS"]), "registry.ollama.ai/library/llava/13b", llm25, projector26)
    with pytest.raises(ServerUnavailable) as caught:
        open_route(Settings.load(environ, pair_sources=SOURCES), "llava:13b")
    message = caught.value.message
    assert message.startswith("Ollama is not running at ")
    assert ", and 'llava:13b' in the ollama store is not a MiniCPM-V pair the in-process engine can run (" in message
