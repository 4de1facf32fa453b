"""`--host` repeated: ask, chat and batch spread their requests over several Ollama daemons (one engine),
and a daemon that fails is taken out while the other answers."""

from __future__ import annotations

import json

import pytest

from support.cli import run_mcv
from support.images import jpeg_bytes, make_photo
from support.ollama_standin import OllamaStandin


@pytest.fixture
def two(ollama_standin):
    other = OllamaStandin()
    try:
        ollama_standin.add_model("minicpm-v", answer="From one.")
        other.add_model("minicpm-v", answer="From two.")
        yield ollama_standin, other
    finally:
        other.close()
    assert not other.internal_errors and not other.warnings


def hosts(one, two) -> list[str]:
    return ["--host", one.url, "--host", two.url]


def test_ask_goes_to_the_other_daemon_when_one_fails(two, mcv_env, photo_jpeg):
    one, other = two
    one.inject_chat_failure("busy")
    result = run_mcv(["ask", *hosts(one, other), str(photo_jpeg), "what?", "--json"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["answer"] == "From two." and document["where"] == f"2 Ollama daemons ({one.url}, {other.url})"
    assert len(one.requests_to("/api/chat")) == 1 and len(other.requests_to("/api/chat")) == 1


def test_chat_spreads_its_turns(two, mcv_env):
    one, other = two
    result = run_mcv(["chat", *hosts(one, other)], environ=mcv_env, stdin=b"hi\nagain\nonce more\n")
    assert result.exit_code == 0, result.stderr
    assert "From one." in result.stdout and "From two." in result.stdout
    assert len(one.requests_to("/api/chat")) + len(other.requests_to("/api/chat")) == 3


def test_several_hosts_are_ollama_daemons_only(two, mcv_env):
    one, other = two
    result = run_mcv(["ask", "-b", "llama", *hosts(one, other), "what?"], environ=mcv_env)
    assert result.exit_code == 2 and "--host names Ollama daemons; --backend llama has none" in result.stderr


def test_batch_over_two_daemons_one_dying_half_way_answers_every_image_once(two, mcv_env, tmp_path):
    one, other = two
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(12):
        (folder / f"p{n:02d}.jpg").write_bytes(jpeg_bytes(make_photo(64, 48, seed=n)))
    asked = []

    def dying(request):
        asked.append(1)
        if len(asked) == 3:
            one.stop()  # dies while answering its third image
        return "From one."

    one.find("minicpm-v").answer = dying
    one.find("minicpm-v").latency = other.find("minicpm-v").latency = 0.05
    result = run_mcv(["batch", str(folder), "--preset", "caption", *hosts(one, other)], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    got = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in got) == [f"p{n:02d}.jpg" for n in range(12)]
    assert all(r["error"] is None for r in got)
    assert {r["answer"] for r in got} == {"From one.", "From two."}
