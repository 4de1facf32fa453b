"""The openai backend against the strict stand-in: request shape, SSE, usage, errors, several endpoints."""

from __future__ import annotations

import base64
import json
import io
import threading
import time

import pytest

from mcv.core.backends.base import Backend, ChatRequest, Message, Parameters
from mcv.core.backends.openai import base_urls, open_backend
from mcv.core.backends.openai.client import error_message, normalise_base_url, retry_after, sse_data
from mcv.core.backends.openai.payload import build_payload
from mcv.core.images.types import PreparedImage
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.errors import BackendError, ModelNotFound, ServerUnavailable, StreamError, TransientError, UsageError

KEY = "sk-test-0123456789abcdef-secret"


def png_image(color=(255, 0, 0)) -> PreparedImage:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(out, format="PNG")
    data = out.getvalue()
    return PreparedImage(data=data, mime="image/png", width=4, height=3, source_width=4, source_height=3, label="red.png")


def settings_for(env, *urls, **flags):
    if urls:
        flags["openai.base_url"] = tuple(urls)
    return Settings.load(env, flags={"backend": "openai", **flags})


def ask(model="minicpm-v", text="What is this?", *, images=(), **kw) -> ChatRequest:
    return ChatRequest([Message("user", text, tuple(images))], Parameters(model=model, **kw))


def answer_of(backend, request) -> tuple[str, object]:
    chunks = list(backend.chat(request))
    assert chunks[-1].done and not any(c.done for c in chunks[:-1])
    return "".join(c.text for c in chunks), chunks[-1]


@pytest.fixture
def server(openai_standin):
    openai_standin.add_model("minicpm-v", answer="A red square on white.")
    return openai_standin


# ------------------------------------------------------------------ pieces


def test_sse_framing_per_spec():
    lines = [": keep-alive", "data: {\"a\": 1}", "", "event: x", "data: line one", "data:line two", "", "", "data: [DONE]", ""]
    assert list(sse_data(iter(lines))) == [("message", '{"a": 1}'), ("x", "line one\nline two"), ("message", "[DONE]")]
    # an event the stream cut before its blank line is dropped (SSE: pending data is discarded at the end)
    assert list(sse_data(iter(['data: {"a": 1}', "", 'data: {"choices": [{"del']))) == [("message", '{"a": 1}')]
    assert list(sse_data(iter(["data: [DONE]"]))) == [("message", "[DONE]")]
    # llama-server's own error line
    assert list(sse_data(iter(['error: {"code": 500, "message": "boom"}', ""]))) == [("error", '{"code": 500, "message": "boom"}')]


def _client_answering(body: bytes):
    """An OpenAIClient whose server answers every chat with `body` as its SSE stream."""
    import httpx

    from mcv.core.backends.openai.client import OpenAIClient

    client = OpenAIClient("http://127.0.0.1:9/v1")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body, headers={"content-type": "text/event-stream"}))
    client._http = httpx.Client(base_url="http://127.0.0.1:9/v1/", transport=transport)
    return client


CHUNK = b'data: {"choices": [{"index": 0, "delta": {"content": "Hi"}}]}\r\n\r\n'


@pytest.mark.parametrize(
    "tail",
    [
        b'error: {"code": 500, "message": "the engine crashed", "type": "server_error"}\n\n',  # llama-server
        b'event: error\ndata: {"message": "the engine crashed"}\n\n',
        b'data: {"error": {"message": "the engine crashed"}}\n\n',
    ],
)
def test_an_error_event_in_the_stream_is_an_error_never_a_short_answer(tail):
    client = _client_answering(CHUNK + tail + b"data: [DONE]\n\n")
    events = client.chat({"model": "m", "messages": [], "stream": True})
    assert next(events)["choices"][0]["delta"]["content"] == "Hi"
    with pytest.raises(StreamError, match="the engine crashed"):
        next(events)


def test_a_server_that_quotes_the_key_back_never_gets_it_shown():
    import httpx

    from mcv.core.backends.openai.client import OpenAIClient

    said = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error"}}
    client = OpenAIClient("http://127.0.0.1:9/v1", api_key=KEY)
    for status in (401, 400):
        transport = httpx.MockTransport(lambda request: httpx.Response(status, json=said))
        client._http = httpx.Client(base_url="http://127.0.0.1:9/v1/", transport=transport)
        with pytest.raises(BackendError) as caught:
            list(client.chat({"model": "m", "messages": [], "stream": True}))
        assert KEY not in caught.value.message + (caught.value.hint or "")
        assert "Incorrect API key provided: (the API key)" in caught.value.message
    client._http = _client_answering(CHUNK + b"data: " + json.dumps(said).encode() + b"\n\n")._http
    with pytest.raises(StreamError) as caught:
        list(client.chat({"model": "m", "messages": [], "stream": True}))
    assert KEY not in caught.value.message


def test_a_stream_cut_inside_an_event_is_the_endpoints_failure():
    from mcv.core.backends.openai.client import EndpointFailure

    client = _client_answering(CHUNK + b'data: {"choices": [{"index": 0, "del')
    events = client.chat({"model": "m", "messages": [], "stream": True})
    next(events)
    with pytest.raises(EndpointFailure) as caught:  # transient: a batch asks again; not "sent an event that is not JSON"
        next(events)
    assert caught.value.transient


def test_error_objects_of_every_server_kind():
    assert error_message({"error": {"message": "bad", "type": "x"}}) == "bad"  # OpenAI, llama-server
    assert error_message({"object": "error", "message": "vllm says", "code": 400}) == "vllm says"  # vLLM
    assert error_message({"error": "plain"}) == "plain"
    assert error_message({"detail": [{"loc": ["body", "messages"], "msg": "field required"}]}) == "messages: field required"
    assert error_message("nope") is None


def test_retry_after_seconds_or_date():
    assert retry_after("3") == 3.0
    assert retry_after(None) is None and retry_after("soon") is None
    from email.utils import formatdate

    assert 8 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10


def test_base_urls_forms_and_precedence(mcv_env):
    assert normalise_base_url("http://h:8000") == "http://h:8000/v1"
    assert normalise_base_url("http://h:8000/v1/") == "http://h:8000/v1"
    assert normalise_base_url("http://h:11434/v1") == "http://h:11434/v1"
    with pytest.raises(UsageError):
        normalise_base_url("ftp://h")
    env = {**mcv_env, "OPENAI_BASE_URL": "http://env:1/v1", "MCV_OPENAI_BASE_URL": "http://cfg:1 http://cfg:2"}
    assert base_urls(Settings.load(env)) == ["http://env:1/v1"]
    assert base_urls(Settings.load(env, flags={"openai.base_url": ("http://a:1", "http://a:1/v1", "http://b:2")})) == [
        "http://a:1/v1",
        "http://b:2/v1",
    ]
    del env["OPENAI_BASE_URL"]
    assert base_urls(Settings.load(env)) == ["http://cfg:1/v1", "http://cfg:2/v1"]
    assert base_urls(Settings.load(mcv_env)) == ["http://127.0.0.1:8000/v1"]  # vLLM's default


def test_payload_images_as_data_urls_before_the_text_and_options_renamed():
    image = png_image()
    request = ChatRequest(
        [Message("system", "Be brief."), Message("user", "What?", (image,)), Message("assistant", "Red."), Message("user", "Sure?")],
        Parameters(model="m", options={"temperature": 0.2, "num_predict": 50, "stop": ("END",), "seed": 3}, format={"type": "object"}),
    )
    payload = build_payload(request, "m")
    assert payload["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:image/png;base64," + base64.b64encode(image.data).decode()}},
            {"type": "text", "text": "What?"},
        ]},
        {"role": "assistant", "content": "Red."},
        {"role": "user", "content": "Sure?"},
    ]  # fmt: skip
    assert payload["temperature"] == 0.2 and payload["max_tokens"] == 50 and payload["stop"] == ["END"] and payload["seed"] == 3
    assert payload["response_format"] == {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    assert payload["stream"] is True and payload["stream_options"] == {"include_usage": True}
    assert "max_tokens" not in build_payload(ask(options={"num_predict": -1}), "m")
    assert build_payload(ask(format="json"), "m")["response_format"] == {"type": "json_object"}
    assert "stream_options" not in build_payload(ask(stream=False), "m")


# ------------------------------------------------------------------ one endpoint


def test_streams_an_answer_with_usage_as_metrics(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        assert isinstance(backend, Backend) and backend.name == "openai"
        text, last = answer_of(backend, ask(images=[png_image()], options={"temperature": 0}))
    assert text == "A red square on white."
    assert last.done_reason == "stop"
    assert last.metrics.eval_count == 5 and last.metrics.prompt_eval_count > 0
    assert last.metrics.total_duration_ns > 0 and last.metrics.eval_duration_ns is not None
    body = server.chats()[-1].json
    assert body["messages"][0]["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_max_tokens_ends_with_length_and_no_stream_gives_one_answer(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        text, last = answer_of(backend, ask(options={"num_predict": 2}))
        assert (text, last.done_reason) == ("A red ", "length")
        text, last = answer_of(backend, ask(stream=False))
        assert text == "A red square on white." and last.metrics.eval_count == 5
    assert server.chats()[-1].json["stream"] is False


def test_capabilities_say_vision_cannot_be_told_and_images_are_sent_anyway(server, mcv_env):
    server.add_model("other", max_model_len=8192)
    with open_backend(settings_for(mcv_env, server.url), "other") as backend:
        caps = backend.capabilities("other")
        assert caps.vision is None and caps.json_schema and caps.num_ctx == 8192
        assert "num_ctx" not in caps.options and "top_k" not in caps.options and "num_predict" in caps.options
    with Session(settings_for(mcv_env, server.url, model="minicpm-v")) as session:
        done = session.ask([png_image()], "What?").result()  # unknown vision: tried, not refused
        assert done.answer == "A red square on white."
        assert session.ask([], "hi").result().answer == "A red square on white."
        session.parameters = session.parameters.merged(options={"top_k": 5})
        with pytest.raises(UsageError, match="top_k"):
            session.ask([], "hi").result()  # an option the API has no name for: refused, never dropped


def test_model_missing_lists_what_is_served_and_ollama_names_match(server, mcv_env):
    with pytest.raises(ModelNotFound, match=r"model 'nope' is not served .* it serves: minicpm-v"):
        open_backend(settings_for(mcv_env, server.url), "nope")
    server.add_model("llava:latest")
    with open_backend(settings_for(mcv_env, server.url), "llava") as backend:  # Ollama's /v1 lists name:tag
        answer_of(backend, ask(model="llava"))
    assert server.chats()[-1].json["model"] == "llava:latest"


def test_nothing_listening_is_server_unavailable(mcv_env):
    with pytest.raises(ServerUnavailable, match="nothing answers at http://127.0.0.1:9/v1"):
        open_backend(settings_for(mcv_env, "http://127.0.0.1:9"), "minicpm-v")


def test_request_errors_are_one_line_with_the_servers_message(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        server.fail("500")
        with pytest.raises(BackendError, match="answered 500: The server had an error") as caught:
            list(backend.chat(ask()))
        assert not caught.value.transient
        server.fail("error_event", after=2)
        with pytest.raises(StreamError, match="crashed") as caught:
            list(backend.chat(ask()))
        assert caught.value.partial == "A red "


def test_the_api_key_is_sent_and_never_shown(openai_standin, mcv_env):
    openai_standin.api_key = KEY
    openai_standin.add_model("minicpm-v")
    with pytest.raises(BackendError) as caught:
        open_backend(settings_for(mcv_env, openai_standin.url), "minicpm-v")
    assert "401" in caught.value.message and KEY not in caught.value.message + (caught.value.hint or "")
    env = {**mcv_env, "OPENAI_API_KEY": KEY}
    with open_backend(settings_for(env, openai_standin.url), "minicpm-v") as backend:
        answer_of(backend, ask())
        shown = repr(backend) + repr(backend.clients) + backend.where + repr(backend.pool)
        assert KEY not in shown
    assert openai_standin.chats()[-1].headers["authorization"] == f"Bearer {KEY}"
    # user:password in a URL is never shown either
    with pytest.raises(ServerUnavailable) as caught:
        open_backend(settings_for(mcv_env, "http://me:hunter2@127.0.0.1:9/v1"), "minicpm-v")
    assert "hunter2" not in caught.value.message


def test_429_waits_for_retry_after_on_a_single_endpoint(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        server.fail("429", retry_after="1")
        started = time.monotonic()
        text, _ = answer_of(backend, ask())
        waited = time.monotonic() - started
    assert text == "A red square on white."
    assert 0.9 <= waited < 5  # the server said 1 s
    assert [r.status for r in server.chats()] == [429, 200]


def test_a_drop_after_text_is_a_transient_stream_error_with_the_partial(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        server.fail("drop", after=3)
        with pytest.raises(StreamError) as caught:
            list(backend.chat(ask()))
    assert caught.value.transient and caught.value.partial == "A red square "
    assert len(server.chats()) == 1  # not silently asked again


def test_a_drop_before_text_on_the_only_endpoint_is_transient(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        server.fail("drop", after=0)
        with pytest.raises(TransientError):
            list(backend.chat(ask()))


# ------------------------------------------------------------------ several endpoints


@pytest.fixture
def pair(openai_standins):
    servers = [openai_standins(), openai_standins()]
    for n, s in enumerate(servers):
        s.add_model("minicpm-v", answer=f"Answer from {n}.")
    return servers


def test_requests_go_to_the_least_busy_endpoint(pair, mcv_env):
    for s in pair:
        s.latency = 0.3
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        assert backend.slots == 2 and backend.where.startswith("2 OpenAI-compatible servers")
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(answer_of(backend, ask())[0])) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.02)
        for t in threads:
            t.join()
    assert sorted(results) == ["Answer from 0.", "Answer from 0.", "Answer from 1.", "Answer from 1."]
    assert [len(s.chats()) for s in pair] == [2, 2]


def test_a_failure_before_text_is_answered_by_the_other_endpoint(pair, mcv_env):
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        pair[0].fail("drop", after=0)
        assert answer_of(backend, ask())[0] == "Answer from 1."
        a, b = backend.pool.endpoints
        assert a.out(backend.pool.clock())  # taken out for a while
        assert answer_of(backend, ask())[0] == "Answer from 1."
        pair[1].fail("503")
        assert answer_of(backend, ask())[0] == "Answer from 0."  # out, but the only one left: tried
    assert [s.answered for s in pair] == [1, 2]


def test_429_sends_the_request_elsewhere_and_keeps_the_endpoint_out_for_retry_after(pair, mcv_env):
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        pair[0].fail("429", retry_after="30")
        answers = [answer_of(backend, ask())[0] for _ in range(4)]
        a, _ = backend.pool.endpoints
        assert 29 < a.limited_until - backend.pool.clock() <= 30
    assert answers == ["Answer from 1."] * 4
    assert [r.status for r in pair[0].chats()] == [429]


def test_a_dead_endpoint_at_start_is_left_out_and_tried_again_later(pair, mcv_env, monkeypatch):
    import mcv.core.backends.endpoints as endpoints

    pair[0].stop()
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        assert answer_of(backend, ask())[0] == "Answer from 1."
        pair[0].restart()
        a, _ = backend.pool.endpoints
        a.out_until = 0  # its cool-down is over
        answers = {answer_of(backend, ask())[0] for _ in range(3)}
    assert answers == {"Answer from 0.", "Answer from 1."}
    assert endpoints._shared == {}  # the last backend closed: the pool is forgotten


def test_every_endpoint_down_is_server_unavailable(pair, mcv_env):
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        for s in pair:
            s.stop()
        with pytest.raises(ServerUnavailable):
            list(backend.chat(ask()))
    with pytest.raises(ServerUnavailable, match="none of the 2"):
        open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v")


def test_config_show_never_prints_the_key(mcv_env):
    from support.cli import run_mcv

    env = {**mcv_env, "MCV_OPENAI_API_KEY": KEY}
    result = run_mcv(["config", "show"], environ=env)
    assert result.exit_code == 0 and "openai.api_key = (set)" in result.stdout and KEY not in result.stdout
    result = run_mcv(["config", "show", "--json"], environ=env)
    assert KEY not in result.stdout and json.loads(result.stdout)["openai.api_key"]["value"] == "(set)"


def test_when_every_endpoint_is_rate_limited_the_request_waits_for_the_soonest(pair, mcv_env):
    with open_backend(settings_for(mcv_env, *(s.url for s in pair)), "minicpm-v") as backend:
        pair[0].fail("429", retry_after="3")
        pair[1].fail("429", retry_after="1")
        started = time.monotonic()
        text, _ = answer_of(backend, ask())
        waited = time.monotonic() - started
        assert text == "Answer from 1." and 0.9 <= waited < 2.5  # not before its Retry-After, not later
        assert answer_of(backend, ask())[0] == "Answer from 1."  # the other is still limited: not asked early
    assert [r.status for r in pair[0].chats()] == [429]


# ------------------------------------------------------------------ a server that goes silent (openai.stall_timeout)


def stall_env(env, seconds):
    return {**env, "MCV_OPENAI_STALL_TIMEOUT": str(seconds)}


def test_the_stall_timeout_is_a_config_key_of_five_minutes_by_default(server, mcv_env):
    with open_backend(settings_for(mcv_env, server.url), "minicpm-v") as backend:
        assert [c.stall_timeout for c in backend.clients.values()] == [300.0]
    with open_backend(settings_for(stall_env(mcv_env, "2.5"), server.url), "minicpm-v") as backend:
        assert [c.stall_timeout for c in backend.clients.values()] == [2.5]
    for bad in ("0", "-1", "soon", "inf"):
        with pytest.raises(UsageError, match="openai.stall_timeout"):
            open_backend(settings_for(stall_env(mcv_env, bad), server.url), "minicpm-v")


@pytest.mark.timeout(60)
def test_a_server_silent_before_the_headers_is_a_stall_not_a_hang(server, mcv_env):
    with open_backend(settings_for(stall_env(mcv_env, 0.5), server.url), "minicpm-v") as backend:
        server.fail("stall")
        started = time.monotonic()
        with pytest.raises(TransientError, match=r"stalled: nothing from it for 0\.5 s") as caught:
            list(backend.chat(ask()))
        assert time.monotonic() - started >= 0.5  # silence is waited out, not cut short
        assert "openai.stall_timeout" in caught.value.hint
        assert backend.pool.endpoints[0].out(backend.pool.clock())  # failed, like a dropped connection
    assert [r.stalled for r in server.chats()] == [True]


@pytest.mark.timeout(60)
def test_a_stall_after_text_is_a_transient_stream_error_with_the_partial(server, mcv_env):
    with open_backend(settings_for(stall_env(mcv_env, 0.5), server.url), "minicpm-v") as backend:
        server.fail("stall_stream", after=3)
        with pytest.raises(StreamError, match="stalled") as caught:
            list(backend.chat(ask()))
    assert caught.value.transient and caught.value.partial == "A red square "
    assert len(server.chats()) == 1  # not silently asked again


@pytest.mark.timeout(60)
def test_a_slow_answer_that_keeps_coming_is_not_a_stall(server, mcv_env):
    server.latency, server.chunk_delay = 0.4, 0.4  # 2.4 s in all, never 1 s without a byte
    with open_backend(settings_for(stall_env(mcv_env, 1), server.url), "minicpm-v") as backend:
        assert answer_of(backend, ask())[0] == "A red square on white."
    assert server.answered == 1


@pytest.mark.timeout(60)
def test_a_stalled_endpoint_hands_the_request_to_the_other_and_is_left_out(pair, mcv_env):
    with open_backend(settings_for(stall_env(mcv_env, 0.5), *(s.url for s in pair)), "minicpm-v") as backend:
        pair[0].fail("stall")
        assert answer_of(backend, ask())[0] == "Answer from 1."
        a, b = backend.pool.endpoints
        assert a.out(backend.pool.clock()) and not b.out(backend.pool.clock())
        assert answer_of(backend, ask())[0] == "Answer from 1."
    assert [r.stalled for r in pair[0].chats()] == [True] and pair[0].answered == 0
    assert pair[1].answered == 2


@pytest.mark.timeout(60)
def test_a_frozen_server_at_start_is_left_out_like_a_dead_one(pair, mcv_env):
    pair[0].freeze()  # SIGSTOP: connections are taken, nothing is answered, not even /models
    with open_backend(settings_for(stall_env(mcv_env, 0.5), *(s.url for s in pair)), "minicpm-v") as backend:
        assert answer_of(backend, ask())[0] == "Answer from 1."
        assert backend.pool.endpoints[0].out(backend.pool.clock())
    assert [r.path for r in pair[0].requests] == ["/v1/models"] and pair[0].requests[0].stalled
