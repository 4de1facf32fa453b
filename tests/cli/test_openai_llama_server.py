"""A real OpenAI-compatible engine: llama-cpp-python's own server (`python -m llama_cpp.server`, the
`server` extra) serving a tiny MiniCPM-V 2.6 pair answers `mcv ask`, `mcv chat` and a small batch
through `--backend openai`: real SSE from real software, images as data URLs through its
MiniCPM-V chat handler (the tiny pair's words are gibberish; the mechanics are real)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from support.cli import run_mcv
from support.images import jpeg_bytes, make_photo
from support.net import closed_port

pytestmark = pytest.mark.slow
GREEDY = ["-m", "tiny", "-o", "temperature=0", "-o", "seed=1"]


class LlamaServer:
    def __init__(self, pair, log: Path) -> None:
        llm, mmproj = pair
        self.port = closed_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.log = log
        self._log_file = log.open("wb")
        args = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(llm), "--clip_model_path", str(mmproj),
            "--chat_format", "minicpm-v-2.6", "--model_alias", "tiny", "--n_ctx", "4096",
            "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(self.url + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail("llama_cpp.server did not start:\n" + log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)

    def answered(self) -> int:
        """Chat completions it answered with 200 (uvicorn's access log)."""
        return self.log.read_text(errors="replace").count('"POST /v1/chat/completions HTTP/1.1" 200')

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log_file.close()


@pytest.fixture(scope="module")
def llama_server(tiny_pair_factory, tmp_path_factory):
    server = LlamaServer(tiny_pair_factory("2.6"), tmp_path_factory.mktemp("llama-server") / "server.log")
    yield server
    server.stop()


def test_ask_streams_an_answer_from_the_real_server(llama_server, mcv_env, photo_jpeg):
    before = llama_server.answered()
    result = run_mcv(["ask", "--base-url", llama_server.url, *GREEDY, "-o", "num_predict=8", str(photo_jpeg), "what?", "--json"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["backend"] == "openai" and document["model"] == "tiny"
    assert document["done_reason"] == "length"  # our max_tokens reached the engine and ended the answer
    assert document["metrics"]["total_duration_ns"] > 0
    assert llama_server.answered() == before + 1


def test_schema_through_the_real_server(llama_server, mcv_env, photo_jpeg):
    # llama_cpp.server takes a schema only as {"type": "json_object", "schema": ...}: mcv asks again that way.
    result = run_mcv(["ask", "--base-url", llama_server.url, *GREEDY, "-o", "num_predict=60", "--schema", "total float", str(photo_jpeg), "total?"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    assert isinstance(json.loads(result.stdout)["total"], (int, float))


def test_chat_piped_through_the_real_server(llama_server, mcv_env, photo_jpeg):
    before = llama_server.answered()
    result = run_mcv(["chat", "--base-url", llama_server.url, *GREEDY, "-o", "num_predict=6", str(photo_jpeg)], environ=mcv_env, stdin=b"what is it?\nand now?\n")
    assert result.exit_code == 0, result.stderr
    assert llama_server.answered() == before + 2


def test_small_batch_through_the_real_server(llama_server, mcv_env, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(3):
        (folder / f"p{n}.jpg").write_bytes(jpeg_bytes(make_photo(128, 96, seed=n)))
    before = llama_server.answered()
    result = run_mcv(["batch", str(folder), "--preset", "caption", "--base-url", llama_server.url, *GREEDY, "-o", "num_predict=4"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(Path(r["path"]).name for r in got) == ["p0.jpg", "p1.jpg", "p2.jpg"]
    assert all(r["error"] is None for r in got)
    assert llama_server.answered() == before + 3
