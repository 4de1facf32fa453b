"""A strict stand-in for the Ollama daemon, for tests (no Ollama, no weights).

It speaks Ollama's REST API on 127.0.0.1 (random port) and checks requests
the way Ollama v0.32 does — same status codes, same error texts — so a client
bug the real daemon would reject is rejected here too. It is exercised with
the official `ollama` Python client (tests/core/test_standin_official_client.py).

Use the function-scoped fixture::

    def test_something(ollama_standin):
        model = ollama_standin.add_model("minicpm-v", answer="A red square.")
        env = {"OLLAMA_HOST": ollama_standin.url}
        ...                                    # run mcv against it
        chat = ollama_standin.requests_to("/api/chat")[-1]
        assert chat.json["messages"][0]["images"]

API (attribute / method -> what it is):

- `url` — base URL, `http://127.0.0.1:<port>`; `host` — `127.0.0.1:<port>`.
- `add_model(name, capabilities=("completion","vision"), answer=..., *, chunks=None,
  error_after=None, error=..., delay=0.0, thinking=False, thinking_text=...,
  template=..., system="", parameters=None, license=(), family="qwen2",
  parameter_size="7.6B", quantization_level="Q4_0", model_info=None,
  projector_info=None, metrics=None, loaded=False)` -> `StandinModel`.
  `answer` is a string or `f(request_json) -> str`; it is streamed in word-sized
  chunks (or `chunks`). `error_after=N` sends a `{"error": error}` line (status
  200) after N chunks (N=0: a 500 before anything). `delay` sleeps before each
  chunk (Ctrl-C tests). `thinking=True` adds the capability and streams
  `thinking_text` as `message.thinking` first. `num_predict` cuts the answer with
  done_reason "length"; `stop` strings cut it. `metrics={"eval_count": None}`
  leaves a field out of the final chunk (or sets a value).
- `add_library_model(name, layers=((media_type, size), ...), **add_model_kwargs)` —
  makes `name` pullable; `library` is the dict of those names.
- `find(name)`, `models` (list), `remove_model(name)`; `version` ("0.32.15").
- `requests` — every `RecordedRequest` (method, path, headers, json, body_size,
  status, cancelled, lines_sent, finished); `requests_to(path, method=None)`.
- `blobs` — {"sha256:<hex>": size}; `blob_bytes(digest)`; `add_blob(data)`;
  `bytes_received` — body bytes read by POST /api/blobs/* (0 when nothing uploaded).
- `inject_create_error(message, after=1)` / `inject_pull_error(message, after=1)` —
  the next create/pull stream sends `{"error": message}` after `after` lines.
- `warnings` — what Ollama would only log (unknown option keys, unknown create
  parameters). The fixture fails the test if any were logged, unless the test
  sets `fail_on_warnings = False` (Ollama silently ignores such keys, so
  sending one is a client bug).
- `internal_errors` — exceptions inside the stand-in itself (e.g. an `answer`
  function that raised); the fixture fails the test if any are left.
- `num_parallel` (None = no limit) — answers generated at once, as OLLAMA_NUM_PARALLEL;
  more requests wait their turn. A model's `latency=` (add_model) is a fixed time
  each answer holds its slot. `scheduler.peak_running` — the most at once so far.
- `inject_chat_failure("busy" | "drop", count=1, after=0)` — the next `count`
  chat/generate requests get a 503 with Ollama's queue-full text, or have their
  connection cut after `after` answer lines (sched.py).
- `wait_for(predicate, timeout=5.0)` — poll until true (e.g. a cancel is seen).
- `stop()` — the daemon goes away: listener closed, open connections cut.

Behaviours worth knowing (all as in Ollama's source, not guesses):

- 404 texts: chat/generate/delete say `model 'x' not found` (the name as sent);
  show says `model 'x:latest' not found` (the normalised name).
- A data-URL image -> 400 `illegal base64 data at input byte 4`; bytes that
  are no JPEG/PNG/WebP -> 400 whose text is llama-server's JSON
  (`Failed to load image or audio file`); images for a model without vision ->
  400 with llama-server's `Multimodal data provided, but model does not support
  multimodal requests.` (Ollama itself does not pre-check vision).
- A bad `format` -> 500 `invalid format: ...` (raised by the runner, not the
  binder); a wrongly typed option -> 500 `option "x" must be of type ...`;
  an unknown option key is only logged (see `warnings`).
- An error before any line is a plain JSON error with its status; after the
  first line it is a final `{"error"}` line under 200.
- POST of an existing blob answers 200 without reading the body (more than
  256 KiB unread: `Connection: close`); a digest mismatch still stores the bytes
  under their real digest. `/api/create` accepts any `parameters` key.

Deliberate limits: no template rendering, no autodetected chat templates, no
safetensors import, no /v1 endpoints; "llama-quantize COPY" is simulated by
giving the model layer a new digest; the image check accepts JPEG/PNG/WebP
(what mcv sends; real stb_image would also take GIF/BMP).
"""

from __future__ import annotations

import pytest

from . import gguf
from .models import StandinModel
from .server import RecordedRequest
from .standin import OllamaStandin

__all__ = ["OllamaStandin", "RecordedRequest", "StandinModel", "gguf", "ollama_standin"]


@pytest.fixture
def ollama_standin():
    """A fresh stand-in daemon per test (see the module docstring)."""
    standin = OllamaStandin()
    try:
        yield standin
    finally:
        standin.close()
    if standin.internal_errors:
        pytest.fail("the Ollama stand-in itself failed: " + " | ".join(standin.internal_errors))
    if standin.fail_on_warnings and standin.warnings:
        pytest.fail(
            "the Ollama stand-in logged what Ollama silently ignores: "
            + "; ".join(standin.warnings)
            + " (set ollama_standin.fail_on_warnings = False if intended)"
        )
