"""OllamaBackend: payload shape, chunks and metrics, refusals, stream errors."""

from __future__ import annotations

import base64
import io
import subprocess
import sys

import pytest

from mcv.core.backends.base import Backend, ChatRequest, Parameters, Message, Metrics
from mcv.core.backends.ollama import OllamaBackend, build_chat_payload, parse_metrics
from mcv.errors import ModelNotFound, ServerUnavailable, StreamError, UsageError
from mcv.core.images.types import PreparedImage
from mcv.core.ollama.client import OllamaClient


def png_image(color=(255, 0, 0)) -> PreparedImage:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(out, format="PNG")
    return PreparedImage(data=out.getvalue(), mime="image/png", width=4, height=3,
                         source_width=4, source_height=3, label="red.png")


@pytest.fixture
def backend(ollama_standin):
    b = OllamaBackend(OllamaClient(ollama_standin.url, environ={}))
    yield b
    b.close()


def ask(model: str, text: str = "What is this?", *, images=(), **kw) -> ChatRequest:
    return ChatRequest([Message("user", text, tuple(images))], Parameters(model=model, **kw))


def test_is_a_backend(backend):
    assert isinstance(backend, Backend) and backend.name == "ollama"


# ------------------------------------------------------------------ payload


def test_payload_shape():
    image = png_image()
    request = ChatRequest([Message("system", "Be brief."), Message("user", "What?", (image,))], Parameters(model="minicpm-v", options={"temperature": 0.2, "num_ctx": 8192, "stop": ("<|im_end|>",)}, format={"type": "object", "properties": {"a": {"type": "string"}}}, keep_alive="10m"))
    payload = build_chat_payload(request)
    assert payload == {
        "model": "minicpm-v",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "[img]\nWhat?", "images": [base64.b64encode(image.data).decode()]},
        ],
        "stream": True,
        "options": {"temperature": 0.2, "num_ctx": 8192, "stop": ["<|im_end|>"]},
        "format": {"type": "object", "properties": {"a": {"type": "string"}}},
        "keep_alive": "10m",
    }
    assert "system" not in payload and "think" not in payload
    assert not payload["messages"][1]["images"][0].startswith("data:")


def test_optional_fields_only_when_set():
    payload = build_chat_payload(ask("m", think=False, keep_alive=0, stream=False))
    assert payload["think"] is False and payload["keep_alive"] == 0 and payload["stream"] is False
    assert "options" not in payload and "format" not in payload


def test_unknown_or_mistyped_options_cannot_even_be_described():
    with pytest.raises(UsageError) as info:
        ask("m", options={"temprature": 0.1})
    assert "temprature" in info.value.message and "temperature" in info.value.hint
    with pytest.raises(UsageError):
        ask("m", options={"num_ctx": "big"})
    with pytest.raises(UsageError):
        ask("m", options={"num_predict": 1.5})


def test_format_must_be_json_or_a_schema():
    with pytest.raises(UsageError):
        ask("m", format="yaml")
    assert build_chat_payload(ask("m", format="json"))["format"] == "json"


def test_payload_reaches_the_daemon_intact(backend, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A red square.")
    image = png_image()
    request = ChatRequest([Message("system", "Be brief."), Message("user", "What?", (image,))], Parameters(model="minicpm-v", options={"temperature": 0.1, "seed": 7}, format="json", keep_alive=-1))
    text = "".join(c.text for c in backend.chat(request))
    assert text == "A red square."
    sent = ollama_standin.requests_to("/api/chat")[0]
    assert sent.status == 200
    assert sent.json["messages"][0] == {"role": "system", "content": "Be brief."}
    assert base64.b64decode(sent.json["messages"][1]["images"][0]) == image.data
    assert sent.json["options"] == {"temperature": 0.1, "seed": 7}
    assert sent.json["format"] == "json" and sent.json["keep_alive"] == -1


# ------------------------------------------------------------------ chunks & metrics


def test_stream_chunks_and_final_metrics(backend, ollama_standin):
    ollama_standin.add_model("m", answer="One two three.")
    chunks = list(backend.chat(ask("m")))
    assert [c.text for c in chunks[:-1]] == ["One", " two", " three."]
    assert not any(c.done for c in chunks[:-1])
    final = chunks[-1]
    assert final.done and final.done_reason == "stop" and final.text == ""
    assert final.metrics.eval_count == 3
    assert final.metrics.eval_duration_ns == 60_000_000
    assert final.metrics.prompt_eval_count and final.metrics.total_duration_ns
    assert final.metrics.tokens_per_second == pytest.approx(50.0)


def test_missing_metric_fields_stay_none(backend, ollama_standin):
    ollama_standin.add_model("m", answer="Hi.", metrics={"eval_duration": None, "load_duration": None})
    final = list(backend.chat(ask("m")))[-1]
    assert final.metrics.eval_duration_ns is None and final.metrics.load_duration_ns is None
    assert final.metrics.eval_count == 1
    assert final.metrics.tokens_per_second is None


def test_parse_metrics_ignores_junk():
    assert parse_metrics({}) == Metrics()
    m = parse_metrics({"eval_count": True, "eval_duration": "5", "prompt_eval_count": 3.0})
    assert m.eval_count is None and m.eval_duration_ns is None and m.prompt_eval_count == 3


def test_num_predict_gives_done_reason_length(backend, ollama_standin):
    ollama_standin.add_model("m", answer="a b c d e f")
    chunks = list(backend.chat(ask("m", options={"num_predict": 2})))
    assert "".join(c.text for c in chunks) == "a b"
    assert chunks[-1].done_reason == "length"


def test_non_streaming_request(backend, ollama_standin):
    ollama_standin.add_model("m", answer="All at once.")
    chunks = list(backend.chat(ask("m", stream=False)))
    assert [c.text for c in chunks] == ["All at once.", ""]
    assert chunks[-1].done and chunks[-1].metrics.eval_count == 3
    assert ollama_standin.requests_to("/api/chat")[0].json["stream"] is False


def test_thinking_is_streamed_separately(backend, ollama_standin):
    ollama_standin.add_model("thinker", capabilities=("completion",), thinking=True,
                             thinking_text="Hmm.", answer="Yes.")
    chunks = list(backend.chat(ask("thinker", think=True)))
    assert "".join(c.thinking for c in chunks) == "Hmm."
    assert "".join(c.text for c in chunks) == "Yes."


# ------------------------------------------------------------------ refusals & errors


def test_text_only_request_needs_no_capability_lookup(backend, ollama_standin):
    ollama_standin.add_model("textonly", capabilities=("completion",))
    assert "".join(c.text for c in backend.chat(ask("textonly")))
    assert [r.path for r in ollama_standin.requests] == ["/api/chat"]


def test_capabilities_are_cached(backend, ollama_standin):
    ollama_standin.add_model("m")
    caps = backend.capabilities("m")
    assert caps.vision and not caps.thinking and "num_batch" in caps.options
    backend.capabilities("m")
    list(backend.chat(ask("m", images=[png_image()])))
    assert len(ollama_standin.requests_to("/api/show")) == 1


def test_missing_model(backend, ollama_standin):
    with pytest.raises(ModelNotFound):
        backend.capabilities("nope")
    with pytest.raises(ModelNotFound):
        list(backend.chat(ask("nope")))
    with pytest.raises(ModelNotFound):
        list(backend.chat(ask("nope", images=[png_image()])))


def test_daemon_down(ollama_standin):
    ollama_standin.stop()
    backend = OllamaBackend(OllamaClient(ollama_standin.url, environ={}))
    with pytest.raises(ServerUnavailable) as info:
        list(backend.chat(ask("m")))
    assert not isinstance(info.value, StreamError)
    assert "\n" not in info.value.message and info.value.hint


def test_mid_stream_error_keeps_the_partial_text(backend, ollama_standin):
    ollama_standin.add_model("m", answer="The cat sat on the mat.", error_after=3,
                             error="model runner has unexpectedly stopped")
    received = []
    with pytest.raises(StreamError) as info:
        for chunk in backend.chat(ask("m")):
            received.append(chunk.text)
    assert info.value.partial == "The cat sat" == "".join(received)
    assert info.value.message == "Ollama error: model runner has unexpectedly stopped"


def test_connection_lost_mid_answer_is_a_stream_error(backend, ollama_standin):
    ollama_standin.add_model("m", answer="a b c d e", delay=0.2)
    stream = backend.chat(ask("m"))
    assert next(stream).text == "a"
    ollama_standin.stop()
    with pytest.raises(StreamError) as info:
        list(stream)
    assert info.value.partial.startswith("a")


def test_closing_the_chunk_stream_cancels_generation(backend, ollama_standin):
    ollama_standin.add_model("m", answer=" ".join(["w"] * 40), delay=0.1)
    for chunk in backend.chat(ask("m")):
        break  # the loop drops the generator: it must close the response
    chat = ollama_standin.requests_to("/api/chat")[0]
    assert ollama_standin.wait_for(lambda: chat.cancelled, timeout=3)


def test_hot_path_imports_nothing_heavy():
    """As the `mcv` command imports it (its entry point lightens httpx first)."""
    code = (
        "import sys; from mcv.cli.startup import lighten_httpx_import; lighten_httpx_import();"
        "import mcv.core.backends.ollama, mcv.core.ollama.host, mcv.core.session;"
        "print(sorted(m for m in ('numpy','pydantic','ollama','PIL','gguf','llama_cpp','rich','click','pygments')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
