"""The stand-in's Go reproductions (JSON, base64, durations, names, GGUF) are exact."""

from __future__ import annotations

import base64
import io
import os

import pytest

from support.ollama_standin import gguf, gojson, golang
from support.ollama_standin.chat import CHAT_REQUEST
from support.ollama_standin.names import parse_name, valid_path


# ------------------------------------------------------------------ base64


@pytest.mark.parametrize("size", [0, 1, 2, 3, 4, 5, 31, 32, 1000])
def test_base64_round_trip(size):
    data = os.urandom(size)
    assert golang.b64decode(base64.b64encode(data).decode()) == (data, None)


@pytest.mark.parametrize("text,offset", [
    ("data:image/png;base64,iVBORw0KGgo=", 4),  # langgenius/dify#8170
    ("aGVsbG8", 4),        # padding is required
    ("aGVsbA==x", 8),      # trailing garbage
    ("a===", 1),           # padding too early
    ("aGVs bG8=", 4),      # spaces are not allowed
    ("aGVsbA=", 7),        # not enough padding
    ("aGVsbG8=aGVs", 8),   # data after padding
])
def test_base64_errors_like_go(text, offset):
    assert golang.b64decode(text) == (None, f"illegal base64 data at input byte {offset}")


def test_base64_ignores_newlines():
    assert golang.b64decode("aGVs\nbG8=\r\n") == (b"hello", None)


# ------------------------------------------------------------------ durations & numbers


@pytest.mark.parametrize("text,ns", [
    ("5m", 300 * 10**9), ("1h2m3s", 3723 * 10**9), ("0", 0), ("-1m", -60 * 10**9),
    ("1.5h", 5400 * 10**9), ("300ms", 3 * 10**8), ("2us", 2000), ("2\u00b5s", 2000),
])
def test_durations(text, ns):
    assert golang.parse_duration(text) == ns


@pytest.mark.parametrize("text,message", [
    ("", 'time: invalid duration ""'),
    ("5", 'time: missing unit in duration "5"'),
    ("5x", 'time: unknown unit "x" in duration "5x"'),
    ("x", 'time: invalid duration "x"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
])
def test_duration_errors(text, message):
    with pytest.raises(ValueError, match="^" + message.replace(".", r"\.") + "$"):
        golang.parse_duration(text)


@pytest.mark.parametrize("value,text", [
    (4096.0, "4096"), (0.7, "0.7"), (1e6, "1e+06"), (123456.0, "123456"),
    (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (-2.5, "-2.5"), (0.0, "0"),
])
def test_format_g(value, text):
    assert golang.format_g(value) == text


def test_sharp_v():
    assert golang.sharp_v("<|im_end|>") == '"<|im_end|>"'
    assert golang.sharp_v('a"b\n') == '"a\\"b\\n"'
    assert golang.sharp_v(True) == "true" and golang.sharp_v(40) == "40"


def test_marshal_escapes_html_like_go():
    assert golang.marshal({"t": "<a & b>"}) == b'{"t":"\\u003ca \\u0026 b\\u003e"}'
    assert golang.marshal({"t": "é"}) == '{"t":"é"}'.encode()


def test_timestamps_trim_trailing_zeros():
    assert golang.rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert golang.rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"


# ------------------------------------------------------------------ JSON binding


@pytest.mark.parametrize("body,message", [
    (b'{"model": 5}', "json: cannot unmarshal number into Go struct field ChatRequest.model of type string"),
    (b'{"messages": "x"}',
     "json: cannot unmarshal string into Go struct field ChatRequest.messages of type []api.Message"),
    (b'{"messages": [{"content": 1}]}',
     "json: cannot unmarshal number into Go struct field Alias.content of type string"),
    (b'{"messages": [{"images": [1]}]}',
     "json: cannot unmarshal number into Go struct field Alias.images of type api.ImageData"),
    (b'{"messages": [{"images": ["data:,x"]}]}', "illegal base64 data at input byte 4"),
    (b'{"stream": "yes"}', "json: cannot unmarshal string into Go struct field ChatRequest.stream of type bool"),
    (b'{"top_logprobs": 1.5}',
     "json: cannot unmarshal number 1.5 into Go struct field ChatRequest.top_logprobs of type int"),
    (b'{"options": []}',
     "json: cannot unmarshal array into Go struct field ChatRequest.options of type map[string]interface {}"),
    (b'{"keep_alive": "5x"}', 'time: unknown unit "x" in duration "5x"'),
    (b'{"keep_alive": true}', "Unsupported type: 'bool'"),
    (b'{"think": "loud"}', 'invalid think value: "loud" (must be "high", "medium", "low", "max", true, or false)'),
    (b'{"think": 1}', 'think must be a boolean or string ("high", "medium", "low", "max", true, or false)'),
    (b"[1]", "json: cannot unmarshal array into Go value of type api.ChatRequest"),
    (b'{"model": "m"', "unexpected EOF"),
    (b"{'model': 1}", "invalid character '\\'' looking for beginning of value"),
    (b'{"model": NaN}', "invalid character 'N' looking for beginning of value"),
])
def test_chat_binding_errors(body, message):
    with pytest.raises(gojson.JSONError) as info:
        gojson.decode(body, CHAT_REQUEST)
    assert str(info.value) == message


def test_first_type_error_wins_and_decoding_goes_on():
    with pytest.raises(gojson.JSONError) as info:
        gojson.decode(b'{"model": 1, "stream": "x"}', CHAT_REQUEST)
    assert "ChatRequest.model" in str(info.value)


def test_binding_accepts_what_go_accepts():
    body = b'{"MODEL": "m", "Messages": [{"role": "user", "content": "x"}], "extra": {"a": 1}, ' \
           b'"keep_alive": -1, "think": "high", "format": {"type": "object"}} trailing'
    assert gojson.decode(body, CHAT_REQUEST)["MODEL"] == "m"
    assert gojson.decode(b"null", CHAT_REQUEST) == {}
    with pytest.raises(EOFError):
        gojson.decode(b"  \n", CHAT_REQUEST)


# ------------------------------------------------------------------ names & paths


@pytest.mark.parametrize("raw,shortest", [
    ("minicpm-v", "minicpm-v:latest"),
    ("minicpm-v:8b-2.6-q4_0", "minicpm-v:8b-2.6-q4_0"),
    ("openbmb/minicpm-v4.7", "openbmb/minicpm-v4.7:latest"),
    ("hf.co/openbmb/MiniCPM-V:Q4", "hf.co/openbmb/MiniCPM-V:Q4"),
    (" spaced ", "spaced:latest"),
])
def test_valid_names(raw, shortest):
    assert parse_name(raw).shortest() == shortest


@pytest.mark.parametrize("raw", ["", "a b", "-lead", "x:", "/x", "name:tag/x", "a.b/c", "x:t@g"])
def test_invalid_names(raw):
    assert parse_name(raw) is None


def test_names_compare_case_insensitively():
    assert parse_name("MiniCPM-V").key == parse_name("minicpm-v:latest").key


@pytest.mark.parametrize("path,ok", [
    ("model.gguf", True), ("sub/dir/model.gguf", True), (".", True), ("a\\b.gguf", True),
    ("/abs.gguf", False), ("../x.gguf", False), ("a/../b", False), ("a//b", False),
    ("a/", False), ("./a", False), ("", False),
])
def test_fs_valid_path(path, ok):
    assert valid_path(path) is ok


# ------------------------------------------------------------------ GGUF


def test_gguf_round_trip_keeps_types():
    data = gguf.gguf_bytes({"general.architecture": "clip", "clip.vision.block_count": gguf.u32(27),
                            "clip.has_vision_encoder": True, "tokens": ["a", "b"], "f": 0.5})
    kv = gguf.read_kv(io.BytesIO(data))
    assert kv["clip.vision.block_count"] == (gguf.UINT32, 27)
    assert kv["tokens"] == (gguf.ARRAY, ["a", "b"])
    assert kv.uint("vision.block_count") == 27 and kv.bool("has_vision_encoder")


@pytest.mark.parametrize("kv,media", [
    ({"general.architecture": "qwen2", "qwen2.block_count": gguf.u32(28)}, gguf.MODEL),
    ({"general.architecture": "clip", "clip.has_vision_encoder": True,
      "clip.vision.block_count": gguf.u32(27)}, gguf.PROJECTOR),
    ({"general.architecture": "clip", "clip.has_vision_encoder": True}, gguf.PROJECTOR),
    ({"general.architecture": "x", "general.type": "mmproj"}, gguf.PROJECTOR),
    ({"general.architecture": "x", "general.type": "adapter"}, gguf.ADAPTER),
    ({"general.architecture": "gemma3", "gemma3.vision.block_count": gguf.u32(4)}, gguf.PROJECTOR),
    # Ollama's kv.Uint/kv.Bool only match UINT32/BOOL values:
    ({"general.architecture": "gemma3", "gemma3.vision.block_count": gguf.i32(4)}, gguf.MODEL),
    ({"general.architecture": "clip", "clip.has_vision_encoder": 1}, gguf.MODEL),
    ({"general.architecture": "clip", "clip.has_vision_encoder": True,
      "clip.block_count": gguf.u32(2)}, gguf.MODEL),
])
def test_projector_classification_matches_create_go(kv, media):
    assert gguf.media_type(gguf.read_kv(io.BytesIO(gguf.gguf_bytes(kv)))) == media


def test_truncated_gguf_is_an_error():
    data = gguf.gguf_bytes({"general.architecture": "qwen2"})
    with pytest.raises(gguf.GGUFError):
        gguf.read_kv(io.BytesIO(data[:-3]))
