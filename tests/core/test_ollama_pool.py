"""Several Ollama daemons (`--host` repeated) as one engine: the pooled backend against two stand-ins."""

from __future__ import annotations

import threading

import pytest

from mcv.core.backends.base import ChatRequest, Message, Parameters
from mcv.core.backends.ollama import open_backend
from mcv.core.backends.ollama_pool import PooledOllamaBackend
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.errors import ModelNotFound, ServerUnavailable, StreamError
from support.ollama_standin import OllamaStandin


@pytest.fixture
def other():
    standin = OllamaStandin()
    try:
        yield standin
    finally:
        standin.close()
    assert not standin.internal_errors and not standin.warnings


def settings(env, *hosts) -> Settings:
    return Settings.load(env, flags={"backend": "ollama", "host": tuple(hosts)})


def ask(text="What is it?") -> ChatRequest:
    return ChatRequest([Message("user", text)], Parameters(model="minicpm-v"))


def answer(backend, request=None) -> str:
    return "".join(chunk.text for chunk in backend.chat(request or ask()))


def chats(*standins) -> list[int]:
    return [len(s.requests_to("/api/chat")) for s in standins]


def test_requests_go_to_the_daemon_with_the_fewest_in_flight(mcv_env, ollama_standin, other):
    ollama_standin.add_model("minicpm-v", answer="From one.", latency=0.3)
    other.add_model("minicpm-v", answer="From two.", latency=0.3)
    with open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v") as backend:
        assert isinstance(backend, PooledOllamaBackend)
        assert backend.where == f"2 Ollama daemons ({ollama_standin.url}, {other.url})"
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(answer(backend))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == ["From one."] * 2 + ["From two."] * 2  # two at once on each, never 3 + 1
        assert all(e.outstanding == 0 for e in backend.pool.endpoints)


def test_a_daemon_that_fails_is_taken_out_and_its_request_answered_by_the_other(mcv_env, ollama_standin, other):
    ollama_standin.add_model("minicpm-v", answer="From one.")
    other.add_model("minicpm-v", answer="From two.")
    clock = [0.0]
    with open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v") as backend:
        backend.pool.clock = lambda: clock[0]
        ollama_standin.inject_chat_failure("busy")  # 503: its queue is full
        assert answer(backend) == "From two."  # asked there first, answered by the other, once
        assert chats(ollama_standin, other) == [1, 1]
        assert [answer(backend) for _ in range(3)] == ["From two."] * 3  # out for its cool-down
        assert chats(ollama_standin, other) == [1, 4]
        clock[0] += 1.5  # the cool-down is over: tried again, and back for good
        assert {answer(backend) for _ in range(2)} == {"From one.", "From two."}
        ollama_standin.stop()  # gone altogether: its requests go to the other
        clock[0] += 60
        assert [answer(backend) for _ in range(3)] == ["From two."] * 3
        assert backend.pool.endpoints[0].out(clock[0]) and backend.pool.endpoints[0].outstanding == 0


def test_an_answer_cut_mid_way_is_never_answered_again_silently(mcv_env, ollama_standin, other):
    ollama_standin.add_model("minicpm-v", answer="one two three four")
    other.add_model("minicpm-v", answer="From two.")
    with open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v") as backend:
        ollama_standin.inject_chat_failure("drop", after=2)
        with pytest.raises(StreamError) as caught:
            answer(backend)
        assert caught.value.transient and caught.value.partial  # the caller decides (a batch asks again)
        assert chats(ollama_standin, other) == [1, 0]
        assert answer(backend) == "From two."  # the cut daemon is out for a while


def test_one_daemon_down_at_the_start_and_none_up(mcv_env, ollama_standin, other):
    other.add_model("minicpm-v", answer="From two.")
    ollama_standin.stop()
    with open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v") as backend:
        assert answer(backend) == "From two."
    other.stop()
    with pytest.raises(ServerUnavailable, match="none of the 2 Ollama daemons answers"):
        open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v")


def test_the_model_only_one_daemon_has(mcv_env, ollama_standin, other):
    other.add_model("minicpm-v", answer="From two.")
    ollama_standin.add_model("llava")
    with open_backend(settings(mcv_env, ollama_standin.url, other.url), "minicpm-v") as backend:
        assert [answer(backend) for _ in range(3)] == ["From two."] * 3
    assert chats(ollama_standin) == [0]
    with pytest.raises(ModelNotFound, match="model 'nope' is not in"):
        open_backend(settings(mcv_env, ollama_standin.url, other.url), "nope")


def test_the_session_asks_through_the_pool(mcv_env, ollama_standin, other):
    ollama_standin.add_model("minicpm-v", answer="From one.")
    other.add_model("minicpm-v", answer="From two.")
    with Session(settings(mcv_env, ollama_standin.url, other.url)) as session:
        answers = {session.ask([], "hi").result().answer for _ in range(4)}
        assert answers == {"From one.", "From two."}
        assert session.engine_slots() == 2
