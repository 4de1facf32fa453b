"""The stand-in speaks Ollama's protocol as the official `ollama` client expects."""

from __future__ import annotations

import hashlib

import ollama
import pytest

from support.images import png_bytes
from support.ollama_standin import gguf


@pytest.fixture
def official(ollama_standin):
    client = ollama.Client(host=ollama_standin.url)
    yield client
    client.close()


def tiny_png() -> bytes:
    from PIL import Image

    return png_bytes(Image.new("RGB", (2, 2), (0, 128, 255)))


def test_chat_streaming(official, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A blue square.")
    parts = list(official.chat(
        model="minicpm-v",
        messages=[{"role": "user", "content": "What is it?", "images": [tiny_png()]}],
        stream=True,
    ))
    assert "".join(p.message.content for p in parts) == "A blue square."
    assert [p.done for p in parts] == [False, False, False, True]
    final = parts[-1]
    assert final.done_reason == "stop" and final.eval_count == 3 and final.eval_duration > 0
    assert final.created_at.endswith("Z")
    sent = ollama_standin.requests_to("/api/chat")[0]
    assert sent.json["messages"][0]["images"][0].startswith("iVBOR")  # bare base64 PNG


def test_chat_not_streaming(official, ollama_standin):
    ollama_standin.add_model("m", answer="Whole answer.")
    response = official.chat(model="m", messages=[{"role": "user", "content": "x"}])
    assert response.message.content == "Whole answer." and response.done


def test_generate(official, ollama_standin):
    ollama_standin.add_model("m", answer="Generated text.")
    response = official.generate(model="m", prompt="go", images=[tiny_png()])
    assert response.response == "Generated text." and response.done_reason == "stop"


def test_show_list_ps(official, ollama_standin):
    ollama_standin.add_model("minicpm-v", system="Be brief.", parameters={"temperature": 0.7},
                             license=["MIT"], loaded=True)
    show = official.show("minicpm-v")
    assert show.capabilities == ["completion", "vision"]
    assert show.details.family == "qwen2"
    assert show.parameters == "temperature                    0.7"
    assert show.license == "MIT" and show.template
    assert show.modelinfo["general.architecture"] == "qwen2"
    assert [m.model for m in official.list().models] == ["minicpm-v:latest"]
    assert [m.model for m in official.ps().models] == ["minicpm-v:latest"]


def test_create_blob_and_create(official, ollama_standin, tmp_path):
    model = tmp_path / "model.gguf"
    model.write_bytes(gguf.gguf_bytes({"general.architecture": "llama",
                                       "llama.block_count": gguf.u32(1)}))
    proj = tmp_path / "mmproj.gguf"
    proj.write_bytes(gguf.gguf_bytes({"general.architecture": "clip",
                                      "clip.has_vision_encoder": True,
                                      "clip.vision.block_count": gguf.u32(1)}))
    files = {p.name: official.create_blob(p) for p in (model, proj)}
    assert files["model.gguf"] == "sha256:" + hashlib.sha256(model.read_bytes()).hexdigest()
    statuses = [r.status for r in official.create(model="mine", files=files, stream=True)]
    assert statuses[0] == "parsing GGUF" and statuses[-1] == "success"
    # The clip projector without clip.projector_type gets "mlp" written in.
    assert "updating GGUF projector metadata" in statuses
    assert official.show("mine").capabilities == ["completion", "vision"]


def test_pull_streaming(official, ollama_standin):
    ollama_standin.add_library_model("minicpm-v")
    progress = list(official.pull("minicpm-v", stream=True))
    assert progress[0].status == "pulling manifest"
    assert any(p.completed and p.total and p.completed == p.total for p in progress)
    assert progress[-1].status == "success"
    assert official.show("minicpm-v").capabilities == ["completion", "vision"]


def test_missing_model_is_response_error_404(official):
    with pytest.raises(ollama.ResponseError) as info:
        official.show("nope")
    assert info.value.status_code == 404
    assert info.value.error == "model 'nope:latest' not found"
    with pytest.raises(ollama.ResponseError) as info:
        list(official.chat(model="nope", messages=[{"role": "user", "content": "x"}], stream=True))
    assert info.value.status_code == 404 and info.value.error == "model 'nope' not found"


def test_mid_stream_error_is_response_error_minus_one(official, ollama_standin):
    ollama_standin.add_model("m", answer="a b c", error_after=1, error="boom")
    with pytest.raises(ollama.ResponseError) as info:
        list(official.chat(model="m", messages=[{"role": "user", "content": "x"}], stream=True))
    assert info.value.status_code == -1 and info.value.error == "boom"


def test_pull_unknown_is_an_error_line(official):
    with pytest.raises(ollama.ResponseError) as info:
        list(official.pull("no-such-model", stream=True))
    assert info.value.status_code == -1
    assert info.value.error == "pull model manifest: file does not exist"


def test_delete(official, ollama_standin):
    ollama_standin.add_model("m")
    assert official.delete("m").status == "success"
    with pytest.raises(ollama.ResponseError) as info:
        official.delete("m")
    assert info.value.status_code == 404
