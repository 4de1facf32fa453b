"""The stand-in rejects what Ollama rejects, with Ollama's statuses and texts."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import socket
import threading
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from support.ollama_standin import gguf


@pytest.fixture
def http(ollama_standin):
    with httpx.Client(base_url=ollama_standin.url, timeout=10) as client:
        yield client


def png() -> str:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (2, 2), "red").save(out, format="PNG")
    return base64.b64encode(out.getvalue()).decode()


def user(content="Describe.", images=None) -> list[dict]:
    message = {"role": "user", "content": content}
    if images is not None:
        message["images"] = images
    return [message]


def error_of(resp: httpx.Response) -> str:
    return resp.json()["error"]


def lines(resp: httpx.Response) -> list[dict]:
    return [json.loads(line) for line in resp.text.splitlines() if line]


# ------------------------------------------------------------------ basics


def test_root_version_and_unknown_routes(http):
    assert http.get("/").text == "Ollama is running"
    head = http.head("/")
    assert head.status_code == 200 and head.content == b""
    assert http.get("/api/version").json() == {"version": "0.32.15"}
    missing = http.get("/api/chat")  # gin answers 404 for a wrong method too
    assert (missing.status_code, missing.text) == (404, "404 page not found")


def test_missing_body(http):
    resp = http.post("/api/chat", content=b"")
    assert (resp.status_code, error_of(resp)) == (400, "missing request body")


# ------------------------------------------------------------------ /api/chat


def test_chat_stream_wire_format(http, ollama_standin):
    ollama_standin.add_model("m", answer="Hello there.")
    resp = http.post("/api/chat", json={"model": "m", "messages": user()})
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-ndjson"
    assert resp.headers["transfer-encoding"] == "chunked"
    out = lines(resp)
    assert [o["message"]["content"] for o in out] == ["Hello", " there.", ""]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", out[0]["created_at"])
    assert list(out[0]) == ["model", "created_at", "message", "done"]
    assert out[-1]["done"] is True and out[-1]["done_reason"] == "stop"
    assert set(out[-1]) >= {"total_duration", "load_duration", "prompt_eval_count",
                            "prompt_eval_duration", "eval_count", "eval_duration"}


def test_chat_not_streaming_is_one_object(http, ollama_standin):
    ollama_standin.add_model("m", answer="Hello there.")
    resp = http.post("/api/chat", json={"model": "m", "messages": user(), "stream": False})
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    body = resp.json()
    assert body["message"] == {"role": "assistant", "content": "Hello there."} and body["done"]


@pytest.mark.parametrize("body,status,error", [
    ({"messages": []}, 400, "model is required"),
    ({"model": "bad name!", "messages": []}, 400, "invalid model name"),
    ({"model": "nope", "messages": []}, 404, "model 'nope' not found"),
    ({"model": "m", "think": True, "messages": []}, 400, '"m" does not support thinking'),
    ({"model": "m", "top_logprobs": 21, "messages": []}, 400, "top_logprobs must be between 0 and 20"),
    ({"model": "m", "keep_alive": "soon", "messages": []}, 400, 'time: invalid duration "soon"'),
    ({"model": "m", "options": {"temperature": "hot"}, "messages": user()}, 500,
     'option "temperature" must be of type float32'),
    ({"model": "m", "options": {"stop": "x"}, "messages": user()}, 500, 'option "stop" must be of type array'),
    ({"model": "m", "format": "yaml", "messages": user()}, 500,
     'invalid format: "\\"yaml\\""; expected "json" or a valid JSON Schema object'),
    ({"model": "m", "format": ["json"], "messages": user()}, 500,
     'invalid format: "[\\"json\\"]"; expected "json" or a valid JSON Schema object'),
])
def test_chat_rejections(http, ollama_standin, body, status, error):
    ollama_standin.add_model("m")
    resp = http.post("/api/chat", json=body)
    assert (resp.status_code, error_of(resp)) == (status, error)


def test_data_url_images_fail_like_go(http, ollama_standin):
    ollama_standin.add_model("m")
    resp = http.post("/api/chat", json={"model": "m", "messages": user(images=["data:image/png;base64," + png()])})
    assert (resp.status_code, error_of(resp)) == (400, "illegal base64 data at input byte 4")


def test_bytes_that_are_not_an_image(http, ollama_standin):
    ollama_standin.add_model("m")
    resp = http.post("/api/chat", json={"model": "m", "messages": user(images=[base64.b64encode(b"GIF89a..").decode()])})
    assert resp.status_code == 400
    assert json.loads(error_of(resp))["error"]["message"] == "Failed to load image or audio file"


def test_images_for_a_model_without_vision(http, ollama_standin):
    ollama_standin.add_model("t", capabilities=("completion",))
    resp = http.post("/api/chat", json={"model": "t", "messages": user(images=[png()])})
    assert resp.status_code == 400
    inner = json.loads(error_of(resp))["error"]
    assert inner["message"] == "Multimodal data provided, but model does not support multimodal requests."


def test_good_image_and_formats_pass(http, ollama_standin):
    ollama_standin.add_model("m", answer="{}")
    for fmt in ("json", {"type": "object"}, "", None):
        resp = http.post("/api/chat", json={"model": "m", "format": fmt, "messages": user(images=[png()])})
        assert resp.status_code == 200, resp.text


def test_unknown_options_are_only_logged(http, ollama_standin):
    ollama_standin.add_model("m")
    resp = http.post("/api/chat", json={"model": "m", "options": {"temprature": 1}, "messages": user()})
    assert resp.status_code == 200
    assert ollama_standin.warnings == ["invalid option provided option=temprature"]
    ollama_standin.fail_on_warnings = False


def test_load_and_unload(http, ollama_standin):
    ollama_standin.add_model("m")
    load = http.post("/api/chat", json={"model": "m", "messages": []}).json()
    assert load["done_reason"] == "load" and "eval_count" not in load
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == ["m:latest"]
    unload = http.post("/api/chat", json={"model": "m", "messages": [], "keep_alive": 0}).json()
    assert unload["done_reason"] == "unload"
    assert http.get("/api/ps").json() == {"models": []}


def test_mid_stream_error_keeps_status_200(http, ollama_standin):
    ollama_standin.add_model("m", answer="a b c", error_after=2, error="boom")
    resp = http.post("/api/chat", json={"model": "m", "messages": user()})
    assert resp.status_code == 200
    assert lines(resp)[-1] == {"error": "boom"} and len(lines(resp)) == 3


def test_error_before_output_is_a_500(http, ollama_standin):
    ollama_standin.add_model("m", error_after=0, error="boom")
    resp = http.post("/api/chat", json={"model": "m", "messages": user()})
    assert (resp.status_code, error_of(resp)) == (500, "boom")
    resp = http.post("/api/chat", json={"model": "m", "messages": user(), "stream": False})
    assert (resp.status_code, error_of(resp)) == (500, "boom")


def test_num_predict_and_stop(http, ollama_standin):
    ollama_standin.add_model("m", answer="one two three<|im_end|> four", parameters={"num_predict": 10})
    out = lines(http.post("/api/chat", json={"model": "m", "messages": user(),
                                             "options": {"stop": ["<|im_end|>"]}}))
    assert "".join(o["message"]["content"] for o in out) == "one two three"
    out = lines(http.post("/api/chat", json={"model": "m", "messages": user(), "options": {"num_predict": 1}}))
    assert out[-1]["done_reason"] == "length" and out[-1]["eval_count"] == 1


def test_thinking_model_thinks_by_default(http, ollama_standin):
    ollama_standin.add_model("r", capabilities=("completion",), thinking=True, thinking_text="Hmm.")
    out = lines(http.post("/api/chat", json={"model": "r", "messages": user()}))
    assert out[0]["message"] == {"role": "assistant", "content": "", "thinking": "Hmm."}
    out = lines(http.post("/api/chat", json={"model": "r", "messages": user(), "think": False}))
    assert "thinking" not in out[0]["message"]


def test_answer_can_depend_on_the_request(http, ollama_standin):
    ollama_standin.add_model("m", answer=lambda req: f"{len(req['messages'])} messages")
    out = lines(http.post("/api/chat", json={"model": "m", "messages": user() * 2}))
    assert "".join(o["message"]["content"] for o in out) == "2 messages"


def test_client_hanging_up_is_recorded(ollama_standin):
    ollama_standin.add_model("m", answer=" ".join(["w"] * 30), delay=0.05)
    with socket.create_connection(("127.0.0.1", int(ollama_standin.host.split(":")[1]))) as sock:
        body = json.dumps({"model": "m", "messages": user()}).encode()
        sock.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        sock.recv(100)
    record = ollama_standin.requests_to("/api/chat")[0]
    assert ollama_standin.wait_for(lambda: record.finished.is_set(), timeout=3)
    assert record.cancelled and record.lines_sent < 30


def test_a_stand_in_bug_is_reported_not_hidden(http, ollama_standin):
    ollama_standin.add_model("m", answer=lambda req: 1 / 0)
    with pytest.raises(httpx.HTTPError):
        http.post("/api/chat", json={"model": "m", "messages": user()})
    assert ollama_standin.wait_for(lambda: bool(ollama_standin.internal_errors))
    assert "ZeroDivisionError" in ollama_standin.internal_errors[0]
    ollama_standin.internal_errors.clear()  # or the fixture fails this test


# ------------------------------------------------------------------ /api/generate


def test_generate(http, ollama_standin):
    ollama_standin.add_model("m", answer="Yes.")
    out = lines(http.post("/api/generate", json={"model": "m", "prompt": "q", "images": [png()]}))
    assert out[0]["response"] == "Yes." and out[-1]["done"] and out[-1]["context"]
    raw = http.post("/api/generate", json={"model": "m", "prompt": "q", "raw": True, "system": "s"})
    assert (raw.status_code, error_of(raw)) == (400, "raw mode does not support template, system, or context")
    empty = http.post("/api/generate", json={"prompt": "q"})
    assert (empty.status_code, error_of(empty)) == (404, "model '' not found")


# ------------------------------------------------------------------ show / tags / delete


def test_show(http, ollama_standin):
    ollama_standin.add_model("m", parameters={"num_ctx": 8192, "stop": ["<|im_end|>", "<|endoftext|>"]},
                             system="Be brief.")
    resp = http.post("/api/show", json={"model": "m"})
    body = resp.json()
    assert body["parameters"] == ('num_ctx                        8192\n'
                                  'stop                           "<|im_end|>"\n'
                                  'stop                           "<|endoftext|>"')
    assert body["system"] == "Be brief." and body["capabilities"] == ["completion", "vision"]
    assert "projector_info" in body and body["details"]["format"] == "gguf"
    assert b"\\u003c|im_start|\\u003e" in resp.content  # Go escapes < and > in JSON
    assert list(body)[-2:] == ["capabilities", "modified_at"]
    missing = http.post("/api/show", json={"model": "nope"})
    assert (missing.status_code, error_of(missing)) == (404, "model 'nope:latest' not found")
    assert error_of(http.post("/api/show", json={})) == "model is required"


def test_delete_frees_unshared_blobs(http, ollama_standin):
    a = ollama_standin.add_model("a")
    ollama_standin.add_model("b")
    digest = a.layers[0].digest
    assert digest in ollama_standin.blobs
    resp = http.request("DELETE", "/api/delete", json={"model": "a"})
    assert (resp.status_code, resp.content) == (200, b"")
    assert digest not in ollama_standin.blobs
    again = http.request("DELETE", "/api/delete", json={"model": "a"})
    assert (again.status_code, error_of(again)) == (404, "model 'a' not found")
    bad = http.request("DELETE", "/api/delete", json={"model": "a b"})
    assert (bad.status_code, error_of(bad)) == (400, 'name "a b" is invalid')


# ------------------------------------------------------------------ blobs


def test_blob_digest_rules(http, ollama_standin):
    data = b"blob data"
    good = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.head(f"/api/blobs/{good}").status_code == 404
    bad = http.post("/api/blobs/sha256:abc", content=data)
    assert (bad.status_code, error_of(bad)) == (400, "invalid digest format")
    assert http.post(f"/api/blobs/{good}", content=data).status_code == 201
    assert http.head(f"/api/blobs/{good}").status_code == 200
    assert http.head(f"/api/blobs/{good.replace(':', '-')}").status_code == 200
    assert http.post(f"/api/blobs/{good}", content=data).status_code == 200


def test_blob_digest_mismatch_keeps_the_bytes_under_their_real_digest(http, ollama_standin):
    data = b"other data"
    real = "sha256:" + hashlib.sha256(data).hexdigest()
    claimed = "sha256:" + "1" * 64
    resp = http.post(f"/api/blobs/{claimed}", content=data)
    assert resp.status_code == 400
    assert error_of(resp) == f'digest mismatch, expected "{claimed}", got "{real}"'
    assert real in ollama_standin.blobs and claimed not in ollama_standin.blobs
    upper = "sha256:" + hashlib.sha256(b"x").hexdigest().upper()
    assert http.post(f"/api/blobs/{upper}", content=b"x").status_code == 400  # only lowercase matches


def test_blob_upload_chunked(http, ollama_standin):
    data = b"abc" * 100_000
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    resp = http.post(f"/api/blobs/{digest}", content=iter([data[:1000], data[1000:]]))
    assert resp.status_code == 201
    assert ollama_standin.blob_bytes(digest) == data
    assert ollama_standin.bytes_received == len(data)


def test_existing_blob_body_is_not_read(ollama_standin):
    data = b"q" * (2 << 20)
    digest = ollama_standin.add_blob(data)
    port = int(ollama_standin.host.split(":")[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        # The body goes from another thread: the server stops reading after
        # 256 KiB, so a blocking sendall of the rest must not stall the reply.
        def send() -> None:
            try:
                sock.sendall(f"POST /api/blobs/{digest} HTTP/1.1\r\nHost: x\r\n"
                             f"Content-Length: {len(data)}\r\n\r\n".encode() + data[: 512 << 10])
            except OSError:
                pass  # the server closed on us, as net/http does

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 200")
    assert b"Connection: close" in reply  # too much left unread: net/http closes


# ------------------------------------------------------------------ /api/create


def upload(http, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.post(f"/api/blobs/{digest}", content=data).status_code in (200, 201)
    return digest


LLM = gguf.gguf_bytes({"general.architecture": "qwen2", "qwen2.block_count": gguf.u32(2),
                       "general.parameter_count": gguf.u64(7_615_616_512), "general.file_type": gguf.u32(2)})
MMPROJ = gguf.gguf_bytes({"general.architecture": "clip", "clip.has_vision_encoder": True,
                          "clip.vision.block_count": gguf.u32(2), "clip.projector_type": "resampler"})


@pytest.mark.parametrize("body,error", [
    ({"model": "x"}, "neither 'from' or 'files' was specified"),
    ({"model": "x", "files": {}}, "unknown type"),
    ({"model": "x", "files": {"/abs/model.gguf": "sha256:" + "0" * 64}}, "file path must be relative"),
    ({"model": "x", "files": {"../model.gguf": "sha256:" + "0" * 64}}, "file path must be relative"),
    ({"model": "x", "files": {"model.gguf": ""}}, "invalid digest format"),
    ({"model": "bad name", "files": {"model.gguf": "sha256:" + "0" * 64}}, "invalid model name"),
    ({"model": "x", "files": {"model": "sha256:" + "0" * 64}}, "unknown type"),
    ({"model": "x", "files": {"m.gguf": 5}},
     "json: cannot unmarshal number into Go struct field CreateRequest.files of type string"),
])
def test_create_rejections(http, body, error):
    resp = http.post("/api/create", json=body)
    assert (resp.status_code, error_of(resp)) == (400, error)


def test_create_needs_uploaded_gguf_blobs(http, ollama_standin):
    missing = "sha256:" + "0" * 64
    out = lines(http.post("/api/create", json={"model": "x", "files": {"model.gguf": missing}}))
    assert out[0] == {"status": "parsing GGUF"}
    assert out[1]["error"] == f"open {ollama_standin.blobs_dir}/sha256-{'0' * 64}: no such file or directory"
    not_gguf = upload(http, b"PK\x03\x04 not a gguf")
    out = lines(http.post("/api/create", json={"model": "x", "files": {"model.gguf": not_gguf}}))
    assert out[-1] == {"error": "supplied file was not in GGUF format"}


def test_create_statuses_and_result(http, ollama_standin):
    files = {"model.gguf": upload(http, LLM), "mmproj.gguf": upload(http, MMPROJ)}
    body = {"model": "mine", "files": files, "template": "{{ .Prompt }}", "system": "Be brief.",
            "license": ["MIT", "Apache"], "parameters": {"temperature": 0.2}}
    statuses = [o["status"] for o in lines(http.post("/api/create", json=body))]
    assert statuses[:2] == ["parsing GGUF", "parsing GGUF"]
    assert statuses[2:4] == ["validating GGUF model", "verifying conversion"]
    layer_lines = statuses[4:-2]  # files are handled in sorted order: mmproj.gguf first
    assert layer_lines[0] == f"using existing layer {files['mmproj.gguf']}"
    assert layer_lines[1].startswith("creating new layer sha256:")  # the rewritten model
    assert layer_lines[1] != f"creating new layer {files['model.gguf']}"
    assert len(layer_lines) == 2 + 1 + 1 + 2 + 1  # model, projector, template, system, 2 licenses, params
    assert statuses[-2:] == ["writing manifest", "success"]
    show = http.post("/api/show", json={"model": "mine"}).json()
    assert show["capabilities"] == ["completion", "vision"]
    assert show["details"]["family"] == "qwen2" and show["details"]["parameter_size"] == "7.6B"
    assert show["details"]["quantization_level"] == "Q4_0"
    assert show["license"] == "MIT\nApache" and show["system"] == "Be brief."
    assert show["projector_info"]["clip.projector_type"] == "resampler"
    # A second identical create reuses every layer.
    again = [o["status"] for o in lines(http.post("/api/create", json=body))]
    assert all(s.startswith("using existing layer") for s in again[4:-2])


def test_create_without_projector_has_no_vision(http, ollama_standin):
    files = {"model.gguf": upload(http, LLM)}
    resp = http.post("/api/create", json={"model": "text", "files": files, "stream": False})
    assert resp.json() == {"status": "success"}
    assert ollama_standin.find("text").capabilities == ["completion"]


def test_create_from_existing_model(http, ollama_standin):
    base = ollama_standin.add_model("base", answer="from base")
    resp = http.post("/api/create", json={"model": "derived", "from": "base", "system": "New."})
    statuses = [o["status"] for o in lines(resp)]
    assert statuses[0] == f"using existing layer {base.layers[0].digest}"
    derived = ollama_standin.find("derived")
    assert derived.system == "New." and derived.capabilities == ["completion", "vision"]
    assert derived.answer == "from base"


def test_create_unknown_parameter_is_stored_but_flagged(http, ollama_standin):
    files = {"model.gguf": upload(http, LLM)}
    resp = http.post("/api/create", json={"model": "x", "files": files, "parameters": {"mmproj": "x"}})
    assert lines(resp)[-1] == {"status": "success"}
    assert ollama_standin.find("x").parameters == {"mmproj": "x"}
    assert ollama_standin.warnings and "mmproj" in ollama_standin.warnings[0]
    ollama_standin.fail_on_warnings = False


def test_injected_create_error(http, ollama_standin):
    ollama_standin.inject_create_error("disk full", after=1)
    files = {"model.gguf": upload(http, LLM)}
    out = lines(http.post("/api/create", json={"model": "x", "files": files}))
    assert out == [{"status": "parsing GGUF"}, {"error": "disk full"}]
    assert ollama_standin.find("x") is None


# ------------------------------------------------------------------ /api/pull


def test_pull(http, ollama_standin):
    ollama_standin.add_library_model("lib", layers=[(gguf.MODEL, 1000)])
    out = lines(http.post("/api/pull", json={"model": "lib"}))
    assert out[0] == {"status": "pulling manifest"}
    first = out[1]
    assert first["status"] == f"pulling {first['digest'][7:19]}" and "completed" not in first
    assert out[-1] == {"status": "success"} and ollama_standin.find("lib:latest")
    # Pulled again: layers are already there.
    again = lines(http.post("/api/pull", json={"model": "lib"}))
    assert again[1]["completed"] == again[1]["total"]


def test_pull_unknown(http, ollama_standin):
    out = lines(http.post("/api/pull", json={"model": "nope"}))
    assert out == [{"status": "pulling manifest"}, {"error": "pull model manifest: file does not exist"}]
    resp = http.post("/api/pull", json={"model": "nope", "stream": False})
    assert (resp.status_code, error_of(resp)) == (500, "pull model manifest: file does not exist")
    bad = http.post("/api/pull", json={"model": ""})
    assert (bad.status_code, error_of(bad)) == (400, "invalid model name")


def test_injected_pull_error(http, ollama_standin):
    ollama_standin.add_library_model("lib")
    ollama_standin.inject_pull_error("connection reset", after=2)
    out = lines(http.post("/api/pull", json={"model": "lib"}))
    assert len(out) == 3 and out[-1] == {"error": "connection reset"}


# ------------------------------------------------------------------ stopping


def test_stop_refuses_new_and_cuts_open_connections(ollama_standin):
    ollama_standin.add_model("m", answer="a b c d e f", delay=0.2)
    with httpx.Client(base_url=ollama_standin.url) as client:
        assert client.get("/").status_code == 200
        with client.stream("POST", "/api/chat", json={"model": "m", "messages": user()}) as resp:
            lines_iter = resp.iter_lines()
            next(lines_iter)
            ollama_standin.stop()
            with pytest.raises(httpx.HTTPError):
                list(lines_iter)
        with pytest.raises(httpx.ConnectError):
            client.get("/")


# ------------------------------------------------------------------ the fixture


def test_fixture_fails_a_test_that_sends_unknown_options(tmp_path):
    test_file = tmp_path / "test_uses_standin.py"
    test_file.write_text(textwrap.dedent("""
        import httpx

        def test_sloppy(ollama_standin):
            ollama_standin.add_model("m")
            httpx.post(ollama_standin.url + "/api/chat",
                       json={"model": "m", "messages": [], "options": {"nope": 1}})
    """))
    support = Path(__file__).resolve().parents[1]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "support.ollama_standin", "-p", "no:cacheprovider",
         str(test_file)],
        capture_output=True, text=True, cwd=tmp_path, env={**__import__("os").environ, "PYTHONPATH": str(support)},
    )
    assert result.returncode != 0
    assert "invalid option provided option=nope" in result.stdout
