"""`mcv chat` on a pseudo-terminal over the in-process engine: a tiny random-weight
MiniCPM-Llama3-V 2.5 pair run by llama.cpp (answers are gibberish; the mechanics
are real). Greedy decoding of this pair writes newlines until a limit, which
makes an answer long enough to interrupt.
"""

from __future__ import annotations

import json
import re
import sys
import time

import pytest
from support.images import jpeg_bytes, make_photo, make_receipt, png_bytes
from support.net import closed_port
from support.tty import Terminal

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "receipt.jpg").write_bytes(jpeg_bytes(make_receipt()))
    (tmp_path / "second.png").write_bytes(png_bytes(make_photo(800, 600, seed=3)))
    return tmp_path


@pytest.fixture
def environ(mcv_env):
    return {**mcv_env, "OLLAMA_HOST": f"127.0.0.1:{closed_port()}", "MCV_CHAT_PREVIEW": "blocks"}


def answered_tokens(term: Terminal, after: int) -> int:
    term.line("/stats")
    return int(term.wait_for(r"last answer: prompt \d+ tok [\d.]+ s · answer (\d+) tok", after=after).group(1))


def saved(folder, name) -> dict:
    return json.loads((folder / name).read_text())


def test_chat_in_process_end_to_end(environ, folder, tiny_pair_25):
    llm, _ = tiny_pair_25
    argv = [sys.executable, "-m", "mcv", "chat", "-m", str(llm)]
    with Terminal([*argv, "receipt.jpg"], env=environ, cwd=folder) as term:
        term.wait_for(r"image 1: receipt\.jpg, 600x1400; waiting")
        term.wait_for(r"▀▀▀")
        # attach without sending, drop, ask
        term.line("/image second.png")
        term.wait_for(r"image 2: second\.png")
        term.line("/drop 2")
        term.wait_for(r"dropped waiting image 2")
        # Greedy from the start: a random tiny model is deterministic then, and writes newlines
        # rather than sampling an end-of-text at once (capped, or they would fill the context).
        term.line("/set temperature 0")
        term.wait_for(r"temperature = 0")
        term.line("/set num_predict 20")
        term.wait_for(r"num_predict = 20")
        term.line("what is the total?")
        term.wait_for(r"answering with MiniCPM-Llama3-V 2\.5 in process \(llama\.cpp\)")
        term.wait_for(r"\n>>>")
        assert answered_tokens(term, 0) == 20
        # /set reaches the request options: the engine stops after 3 tokens
        term.line("/set num_predict 3")
        term.wait_for(r"num_predict = 3")
        at = term.mark()
        term.line("again")
        term.wait_for(r"\n>>>", after=at)
        assert answered_tokens(term, at) == 3
        # interrupt mid-answer: greedy decoding writes newlines until 100000 tokens or the context is full
        term.line("/set num_predict 100000")
        term.wait_for(r"num_predict = 100000")
        at = term.mark()
        term.line("go on")
        time.sleep(1.5)
        term.interrupt()
        term.wait_for(r"mcv: interrupted\n+>>>", after=at)
        term.line("/save cut.json")
        term.wait_for(r"saved to cut\.json")
        partial = saved(folder, "cut.json")["messages"][-1]
        assert partial["interrupted"] is True and partial["content"] and not partial["content"].strip()
        # the engine stopped: a short answer comes at once, not after the long one
        term.line("/set num_predict 4")
        term.wait_for(r"num_predict = 4")
        at = term.mark()
        started = time.monotonic()
        term.line("/retry")
        term.wait_for(r"\n>>>", after=at)
        assert time.monotonic() - started < 10
        assert answered_tokens(term, at) == 4
        term.line("/save retried.json")
        term.wait_for(r"saved to retried\.json")
        retried = saved(folder, "retried.json")["messages"]
        assert len(retried) == 6 and "interrupted" not in retried[-1] and retried[-2]["content"] == "go on"
        # a dropped path is attached, not sent
        term.line(f"'{folder / 'second.png'}' ")
        term.wait_for(r"image 2: second\.png, 800x600; waiting")
        term.line("compare them")
        term.wait_for(r"\n>>>", after=term.mark())
        # /save and /load round trip
        term.line("/save t.md")
        term.wait_for(r"saved to t\.md \(Markdown, 2 images\)")
        term.line("/save t.json")
        term.wait_for(r"saved to t\.json \(JSON, 2 images\)")
        term.line("/clear")
        term.wait_for(r"a new chat")
        term.line("/load t.md")
        term.wait_for(r"loaded t\.md: 8 messages, 2 images")
        term.line("/save reloaded.json")
        term.wait_for(r"saved to reloaded\.json")
        term.line("/exit")
        term.wait_for(r"chat (\d+) is in the history")
        assert term.exit_code() == 0
    before = saved(folder, "t.json")
    reloaded = saved(folder, "reloaded.json")
    assert reloaded["messages"] == before["messages"] and reloaded["images"] == before["images"]
    assert before["messages"][-2]["content"] == "compare them"
    # resume after the image files are gone: the history has the prepared bytes
    (folder / "receipt.jpg").unlink()
    (folder / "second.png").unlink()
    with Terminal([*argv, "--continue"], env=environ, cwd=folder) as term:
        term.wait_for(r"continuing chat \d+: .* \(8 messages, 2 images\)")
        term.wait_for(r"image 2: second\.png, 800x600, sent")
        at = term.mark()
        term.line("/set num_predict 2")
        term.line("and now?")
        term.wait_for(r"\n>>>", after=at)
        assert answered_tokens(term, at) == 2
        term.line("/save resumed.json")
        term.wait_for(r"saved to resumed\.json")
        term.end()
        assert term.exit_code() == 0
    after = saved(folder, "resumed.json")
    assert after["images"] == before["images"]  # byte-identical prepared images
    assert [m["content"] for m in after["messages"]][:8] == [m["content"] for m in before["messages"]]
    assert re.fullmatch(r"[0-9a-f]{64}", next(iter(after["images"])))
