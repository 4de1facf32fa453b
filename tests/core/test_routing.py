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
from mcv.errors import ModelNotFound, ServerUnavailable, UsageError
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
    assert "no local GGUF pair is the model 'llava:13b'" in caught.value.message
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
    with pytest.raises(ModelNotFound, match="no local GGUF pair is the model 'minicpm-v'"):
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
    assert caught.value.hint == "choose auto, ollama, llama"


def test_routing_imports_no_llama_cpp_until_a_pair_answers():
    code = (
        "import sys; from mcv.core.routing import open_route; from mcv.core.session import Session\n"
        "assert 'llama_cpp' not in sys.modules and 'numpy' not in sys.modules, sorted(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stderr
