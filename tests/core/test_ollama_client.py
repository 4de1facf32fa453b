"""OllamaClient against the strict stand-in: requests, streams and error mapping."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys

import pytest

from mcv.errors import (BackendError, InputError, ModelNotFound, ServerUnavailable,
                             StreamError, UsageError)
from mcv.core.ollama.client import OllamaClient, normalize_digest
from support.ollama_standin import gguf


@pytest.fixture
def client(ollama_standin):
    with OllamaClient(ollama_standin.url, environ={}) as c:
        yield c


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def one_line(err: Exception) -> str:
    text = str(err)
    assert "\n" not in text and text
    return text


# ------------------------------------------------------------------ basics


def test_version_and_running(client, ollama_standin):
    assert client.version() == "0.32.15"
    assert client.is_running() is True
    assert [r.path for r in ollama_standin.requests] == ["/api/version", "/"]


def test_show_capabilities_tags_ps(client, ollama_standin):
    ollama_standin.add_model("minicpm-v", loaded=True)
    ollama_standin.add_model("textonly", capabilities=("completion",))
    assert client.capabilities("minicpm-v") == {"completion", "vision"}
    assert client.capabilities("textonly:latest") == {"completion"}
    info = client.show("minicpm-v")
    assert info["details"]["family"] == "qwen2" and "model_info" in info
    assert {m["name"] for m in client.tags()} == {"minicpm-v:latest", "textonly:latest"}
    assert [m["name"] for m in client.ps()] == ["minicpm-v:latest"]


def test_capabilities_fall_back_for_daemons_without_the_field(client, monkeypatch):
    monkeypatch.setattr(client, "show", lambda model: {"projector_info": {"clip.x": 1}})
    assert client.capabilities("old") == {"completion", "vision"}
    monkeypatch.setattr(client, "show", lambda model: {"model_info": {}})
    assert client.capabilities("old") == {"completion"}


def test_vision_models_from_tags_or_from_show(client, ollama_standin, monkeypatch):
    ollama_standin.add_model("minicpm-v")
    ollama_standin.add_model("textonly", capabilities=("completion",))
    ollama_standin.add_model("llava:13b")
    assert client.vision_models() == ["minicpm-v:latest", "llava:13b"]
    assert not ollama_standin.requests_to("/api/show")  # /api/tags listed them (Ollama >= 0.30)

    # An older daemon lists no capabilities: each model is asked, a broken one skipped.
    plain = [{k: v for k, v in entry.items() if k != "capabilities"} for entry in client.tags()]
    plain.append({"name": "gone:latest"})
    monkeypatch.setattr(client, "tags", lambda: plain)
    assert client.vision_models() == ["minicpm-v:latest", "llava:13b"]
    assert [r.json["model"] for r in ollama_standin.requests_to("/api/show")] == [
        "minicpm-v:latest", "textonly:latest", "llava:13b", "gone:latest",
    ]
    assert client.vision_models(limit=1) == ["minicpm-v:latest"]


def test_delete(client, ollama_standin):
    ollama_standin.add_model("gone")
    client.delete("gone")
    assert ollama_standin.find("gone") is None
    with pytest.raises(ModelNotFound):
        client.delete("gone")


def test_api_key_is_sent_as_bearer(ollama_standin):
    with OllamaClient(ollama_standin.url, environ={"OLLAMA_API_KEY": "k123"}) as c:
        c.version()
    assert ollama_standin.requests[-1].headers["authorization"] == "Bearer k123"


def test_no_authorization_without_key(client, ollama_standin):
    client.version()
    assert "authorization" not in ollama_standin.requests[-1].headers


def test_from_environment_uses_ollama_host(ollama_standin):
    env = {"OLLAMA_HOST": ollama_standin.host}
    with OllamaClient.from_environment(env) as c:
        assert c.base_url == ollama_standin.url
        assert c.version() == "0.32.15"


def test_flag_host_wins_over_environment(ollama_standin):
    env = {"OLLAMA_HOST": f"127.0.0.1:{free_port()}"}
    with OllamaClient.from_environment(env, flag=ollama_standin.url) as c:
        assert c.is_running()


def test_empty_host_means_this_machine(ollama_standin):
    # OLLAMA_HOST=":PORT" is "http://:PORT"; Go dials that as localhost.
    port = ollama_standin.host.rsplit(":", 1)[1]
    with OllamaClient.from_environment({"OLLAMA_HOST": f":{port}"}) as c:
        assert c.base_url == f"http://:{port}"
        assert c.version() == "0.32.15"


def test_base_url_path_prefix_is_kept():
    import httpx

    seen = []
    with OllamaClient("http://127.0.0.1:9/ollama", environ={}) as c:
        c._http._transport = httpx.MockTransport(
            lambda request: seen.append(str(request.url)) or httpx.Response(200, json={"version": "1"}))
        assert c.version() == "1"
    assert seen == ["http://127.0.0.1:9/ollama/api/version"]


def test_local_daemon_is_never_proxied(ollama_standin, monkeypatch):
    # Like Go's ProxyFromEnvironment: a proxy setting must not capture 127.0.0.1.
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ALL_PROXY", f"http://127.0.0.1:{free_port()}")
    with OllamaClient(ollama_standin.url, environ={}) as c:
        assert c.version() == "0.32.15"


# ------------------------------------------------------------------ errors


def test_nothing_listening_is_server_unavailable():
    url = f"http://127.0.0.1:{free_port()}"
    with OllamaClient(url, environ={}) as c:
        assert c.is_running() is False
        with pytest.raises(ServerUnavailable) as info:
            c.version()
    assert one_line(info.value) == f"Ollama is not running at {url} (nothing answers there)"
    assert "ollama serve" in info.value.hint and "OLLAMA_HOST" in info.value.hint


def test_daemon_going_down_is_server_unavailable(client, ollama_standin):
    assert client.version()
    ollama_standin.stop()
    with pytest.raises(ServerUnavailable):
        client.version()
    with pytest.raises(ServerUnavailable):
        list(client.chat({"model": "m", "messages": []}))


def test_missing_model_is_model_not_found(client, ollama_standin):
    with pytest.raises(ModelNotFound) as info:
        client.show("nope")
    assert one_line(info.value) == f"model 'nope' not found at {ollama_standin.url}"
    assert "mcv model pull nope" in info.value.hint and "ollama pull nope" in info.value.hint
    with pytest.raises(ModelNotFound):
        list(client.chat({"model": "nope", "messages": [{"role": "user", "content": "hi"}]}))


def test_other_http_errors_carry_the_server_text(client, ollama_standin):
    ollama_standin.add_model("m")
    with pytest.raises(BackendError) as info:
        list(client.chat({"model": "m", "think": True, "messages": []}))
    assert one_line(info.value) == 'Ollama error 400: "m" does not support thinking'
    with pytest.raises(BackendError) as info:
        list(client.chat({"model": "m", "format": "yaml",
                          "messages": [{"role": "user", "content": "x"}]}))
    assert info.value.message.startswith("Ollama error 500: invalid format:")


def test_unknown_route_is_not_an_ollama_api(client):
    with pytest.raises(BackendError) as info:
        client._json("GET", "/api/nothing-here", model="m")
    assert not isinstance(info.value, ModelNotFound)
    assert "is not an Ollama API (404 for /api/nothing-here)" in info.value.message


def test_invalid_json_line_is_a_backend_error(client, monkeypatch):
    import httpx

    def fake_send(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"message":{"content":"a"}}\nnot json\n')

    client._http._transport = httpx.MockTransport(fake_send)
    with pytest.raises(BackendError) as info:
        list(client.chat({"model": "m", "messages": []}))
    assert "invalid JSON" in one_line(info.value)


def test_invalid_host_is_a_usage_error():
    with pytest.raises(UsageError):
        OllamaClient("ftp://h:11434")


def test_mid_stream_error_line_raises_stream_error(client, ollama_standin):
    ollama_standin.add_model("m", answer="one two three four", error_after=2, error="CUDA out of memory")
    seen = []
    with pytest.raises(StreamError) as info:
        for obj in client.chat({"model": "m", "messages": [{"role": "user", "content": "x"}]}):
            seen.append(obj["message"]["content"])
    assert seen == ["one", " two"]
    assert one_line(info.value) == "Ollama error: CUDA out of memory"


def test_error_before_any_line_is_a_status_error(client, ollama_standin):
    ollama_standin.add_model("m", error_after=0, error="model runner has unexpectedly stopped")
    with pytest.raises(BackendError) as info:
        list(client.chat({"model": "m", "messages": [{"role": "user", "content": "x"}]}))
    assert not isinstance(info.value, StreamError)
    assert info.value.message == "Ollama error 500: model runner has unexpectedly stopped"


def test_connection_lost_mid_stream(client, ollama_standin):
    ollama_standin.add_model("m", answer="a b c d e f", delay=0.2)
    stream = client.chat({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    assert next(stream)["message"]["content"] == "a"
    ollama_standin.stop()
    with pytest.raises(BackendError) as info:
        list(stream)
    assert "lost the connection to Ollama" in one_line(info.value)


# ------------------------------------------------------------------ closing a stream


def test_closing_a_stream_cancels_it_on_the_server(client, ollama_standin):
    ollama_standin.add_model("m", answer=" ".join(["word"] * 50), delay=0.1)
    stream = client.chat({"model": "m", "messages": [{"role": "user", "content": "x"}]})
    next(stream)
    stream.close()
    chat = ollama_standin.requests_to("/api/chat")[0]
    assert ollama_standin.wait_for(lambda: chat.cancelled, timeout=3)
    assert chat.lines_sent < 50


CTRL_C_SCRIPT = r"""
import os, signal, sys, threading, time
from mcv.core.ollama.client import OllamaClient
client = OllamaClient(sys.argv[1], environ={})
threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
try:
    for obj in client.chat({"model": "m", "messages": [{"role": "user", "content": "x"}]}):
        print("chunk", flush=True)
    print("finished", flush=True)
except KeyboardInterrupt:
    print("interrupted", flush=True)
time.sleep(3)  # stay alive: only our own cleanup may close the connection
"""


def test_ctrl_c_while_waiting_closes_the_connection(ollama_standin):
    ollama_standin.add_model("m", answer="a b c d e f g h", delay=0.3)
    proc = subprocess.Popen([sys.executable, "-c", CTRL_C_SCRIPT, ollama_standin.url],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "chunk"
        assert ollama_standin.wait_for(
            lambda: bool(ollama_standin.requests_to("/api/chat"))
            and ollama_standin.requests_to("/api/chat")[0].cancelled, timeout=2.5)
        assert proc.stdout.readline().strip() == "interrupted"
    finally:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------ blobs


def test_digest_forms():
    hexd = "a" * 64
    assert normalize_digest(f"sha256:{hexd}") == f"sha256:{hexd}"
    assert normalize_digest(f"sha256-{hexd.upper()}") == f"sha256:{hexd}"
    assert normalize_digest(hexd) == f"sha256:{hexd}"
    with pytest.raises(InputError):
        normalize_digest("sha256:abc")


def test_push_blob_created_then_existing(client, ollama_standin, tmp_path):
    data = b"0123456789" * 1000
    path = tmp_path / "x.bin"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    progress = []
    assert client.head_blob(digest) is False
    assert client.push_blob(digest, path, progress=lambda sent, total: progress.append((sent, total))) is True
    assert ollama_standin.blob_bytes(digest) == data
    assert progress[0] == (0, len(data)) and progress[-1] == (len(data), len(data))
    assert client.head_blob(digest) is True
    assert client.push_blob(digest, path) is False


def test_push_blob_streams_with_content_length(client, ollama_standin, tmp_path):
    data = bytes(range(256)) * 20_000  # 5 MB, several upload chunks
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert client.push_blob(digest, path)
    post = ollama_standin.requests_to(f"/api/blobs/{digest}", "POST")[0]
    assert post.headers["content-length"] == str(len(data))
    assert "transfer-encoding" not in post.headers
    assert post.body_size == len(data)


def test_push_existing_large_blob_is_answered_without_the_body(client, ollama_standin, tmp_path):
    data = b"z" * (3 << 20)
    digest = ollama_standin.add_blob(data)
    path = tmp_path / "z.bin"
    path.write_bytes(data)
    assert client.push_blob(digest, path) is False  # Ollama answers 200 without reading
    assert ollama_standin.requests_to(f"/api/blobs/{digest}", "POST")[0].body_size < len(data)


def test_ensure_blob_uploads_only_once(client, ollama_standin, tmp_path):
    path = tmp_path / "m.gguf"
    path.write_bytes(gguf.gguf_bytes({"general.architecture": "qwen2"}))
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert client.ensure_blob(digest, path) is True
    before = ollama_standin.bytes_received
    assert client.ensure_blob(digest, path) is False
    assert ollama_standin.bytes_received == before  # the second time: zero bytes


def test_digest_mismatch_is_reported(client, ollama_standin, tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"actual bytes")
    wrong = "sha256:" + "0" * 64
    with pytest.raises(BackendError) as info:
        client.push_blob(wrong, path)
    assert "digest mismatch" in one_line(info.value)
    assert info.value.hint and "change" in info.value.hint


def test_unreadable_file_is_an_input_error(client, tmp_path):
    with pytest.raises(InputError):
        client.push_blob("sha256:" + "0" * 64, tmp_path / "missing.bin")


# ------------------------------------------------------------------ create / pull


def _pair(tmp_path, client):
    files = {
        "model.gguf": gguf.gguf_bytes({"general.architecture": "qwen2",
                                       "qwen2.block_count": gguf.u32(2),
                                       "general.parameter_count": gguf.u64(8_000_000_000)}),
        "mmproj.gguf": gguf.gguf_bytes({"general.architecture": "clip",
                                        "clip.has_vision_encoder": True,
                                        "clip.vision.block_count": gguf.u32(2),
                                        "clip.projector_type": "resampler"}),
    }
    digests = {}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        digests[name] = "sha256:" + hashlib.sha256(data).hexdigest()
        client.ensure_blob(digests[name], path)
    return digests


def test_create_streams_statuses_and_registers_a_vision_model(client, ollama_standin, tmp_path):
    files = _pair(tmp_path, client)
    statuses = [s["status"] for s in client.create(
        {"model": "mine", "files": files, "template": "{{ .Prompt }}",
         "parameters": {"num_ctx": 4096, "stop": ["<|im_end|>"]}})]
    assert statuses[:2] == ["parsing GGUF", "parsing GGUF"]
    assert statuses[-2:] == ["writing manifest", "success"]
    assert "validating GGUF model" in statuses
    assert client.capabilities("mine") == {"completion", "vision"}
    show = client.show("mine")
    assert show["template"] == "{{ .Prompt }}"
    assert show["parameters"].splitlines() == [
        "num_ctx                        4096", 'stop                           "<|im_end|>"']


def test_create_error_line_raises(client, ollama_standin, tmp_path):
    files = _pair(tmp_path, client)
    ollama_standin.inject_create_error("failed to validate GGUF with llama-quantize", after=2)
    with pytest.raises(StreamError) as info:
        list(client.create({"model": "mine", "files": files}))
    assert "failed to validate GGUF" in one_line(info.value)


def test_create_bad_request_is_backend_error(client):
    with pytest.raises(BackendError) as info:
        list(client.create({"model": "mine"}))
    assert one_line(info.value) == "Ollama error 400: neither 'from' or 'files' was specified"


def test_pull_streams_progress(client, ollama_standin):
    ollama_standin.add_library_model("minicpm-v", answer="pulled!")
    events = list(client.pull("minicpm-v"))
    assert events[0] == {"status": "pulling manifest"}
    firsts = [e for e in events if e.get("digest") and "completed" not in e]
    assert firsts and all(e["total"] > 0 for e in firsts)
    assert [e["status"] for e in events[-3:]] == ["verifying sha256 digest", "writing manifest", "success"]
    assert ollama_standin.find("minicpm-v").answer == "pulled!"


def test_pull_unknown_model_is_model_not_found(client):
    with pytest.raises(ModelNotFound) as info:
        list(client.pull("no-such-model"))
    assert one_line(info.value) == "model 'no-such-model' is not in the Ollama library"
