"""`--backend openai` end to end against the strict OpenAI stand-in: ask, chat, presets, --schema,
batch, and a batch over two endpoints of which one dies half-way (every image answered exactly once)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from support.cli import run_mcv
from support.images import jpeg_bytes, make_photo

TAGS = '["red", "square", "white"]'


def make_photos(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"photo{n:02d}.jpg"
        path.write_bytes(jpeg_bytes(make_photo(96, 64, seed=n)))
        paths.append(path)
    return paths


def records(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


@pytest.fixture
def server(openai_standin, mcv_env):
    openai_standin.add_model("minicpm-v", answer="A red square on white.")
    mcv_env["OPENAI_BASE_URL"] = openai_standin.url
    return openai_standin, mcv_env


def test_ask_with_base_url_implies_the_backend(openai_standin, mcv_env, photo_jpeg):
    openai_standin.add_model("minicpm-v", answer="A red square on white.")
    result = run_mcv(["ask", "--base-url", openai_standin.url, str(photo_jpeg), "What is it?", "--json"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["answer"] == "A red square on white." and document["backend"] == "openai"
    assert document["metrics"]["eval_count"] == 5
    (chat,) = openai_standin.chats()
    parts = chat.json["messages"][-1]["content"]
    assert parts[0]["image_url"]["url"].startswith("data:image/jpeg;base64,") and parts[-1] == {"type": "text", "text": "What is it?"}


def test_ask_with_the_backend_flag_and_options(server, photo_jpeg):
    standin, env = server
    result = run_mcv(["ask", "-b", "openai", "-t", "0.3", "-o", "num_predict=3", "-s", "Be brief.", str(photo_jpeg), "hi"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "A red square"
    body = standin.chats()[-1].json
    assert body["temperature"] == 0.3 and body["max_tokens"] == 3
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}


def test_an_option_the_api_cannot_take_is_refused_before_sending(server, photo_jpeg):
    standin, env = server
    result = run_mcv(["ask", "-b", "openai", "-o", "num_ctx=8192", str(photo_jpeg), "hi"], environ=env)
    assert result.exit_code == 2 and "Traceback" not in result.stderr
    assert f"option 'num_ctx' is not supported by the openai backend: OpenAI-compatible server at {standin.url}" in result.stderr
    assert standin.chats() == []


def test_base_url_with_another_backend_is_a_usage_error(server, photo_jpeg):
    _, env = server
    result = run_mcv(["ask", "-b", "ollama", "--base-url", "http://127.0.0.1:9", str(photo_jpeg), "hi"], environ=env)
    assert result.exit_code == 2 and "--base-url" in result.stderr


def test_nothing_listening_is_one_line_exit_1(mcv_env, photo_jpeg):
    result = run_mcv(["ask", "--base-url", "http://127.0.0.1:9/v1", str(photo_jpeg), "hi"], environ=mcv_env)
    assert result.exit_code == 1 and "nothing answers at http://127.0.0.1:9/v1" in result.stderr
    assert "Traceback" not in result.stderr


def test_chat_piped_keeps_the_conversation(server, photo_jpeg):
    standin, env = server
    result = run_mcv(["chat", "-b", "openai", str(photo_jpeg)], environ=env, stdin=b"What is it?\nAnd the colour?\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("A red square on white.") == 2
    first, second = (r.json["messages"] for r in standin.chats())
    assert second[: len(first)] == first[:-1] + [first[-1]]  # the same image bytes again
    assert second[-2] == {"role": "assistant", "content": "A red square on white."}
    assert second[-1] == {"role": "user", "content": "And the colour?"}


def test_a_preset_with_a_schema_sends_response_format(server, photo_jpeg):
    standin, env = server
    standin.add_model("minicpm-v", answer=TAGS)
    result = run_mcv(["ask", "-b", "openai", "--preset", "tags", str(photo_jpeg)], environ=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == ["red", "square", "white"]
    body = standin.chats()[-1].json
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["type"] == "array"
    assert body["max_tokens"] == 200


def test_schema_flag_checks_and_retries_the_answer(server, photo_jpeg):
    standin, env = server
    answers = iter(['{"total": "a lot"}', '{"total": 12.5}'])
    standin.add_model("minicpm-v", answer=lambda request: next(answers))
    result = run_mcv(["ask", "-b", "openai", "--schema", "total float", str(photo_jpeg), "total?"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"total": 12.5}
    first, second = standin.chats()
    schema = first.json["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["total"]["type"] == "number"
    assert len(second.json["messages"]) == len(first.json["messages"]) + 2  # asked again in the same conversation


def test_batch_answers_every_image_once(server, tmp_path):
    standin, env = server
    photos = make_photos(tmp_path / "photos", 6)
    result = run_mcv(["batch", str(tmp_path / "photos"), "--preset", "caption", "-b", "openai"], environ=env)
    assert result.exit_code == 0, result.stderr
    got = records(result.stdout)
    assert sorted(r["path"] for r in got) == sorted(str(p) for p in photos)
    assert all(r["answer"] == "A red square on white." and r["error"] is None for r in got)
    assert "(2 at once)" in result.stderr  # one slot + one queued
    assert standin.answered == 6


def test_batch_spreads_over_two_endpoints_and_survives_one_dying_half_way(openai_standins, mcv_env, tmp_path):
    live, dying = openai_standins(chunk_delay=0.01), openai_standins(chunk_delay=0.01)
    live.add_model("minicpm-v", answer="A caption from the live one.")
    dying.add_model("minicpm-v", answer="A caption from the dying one.")

    def die_after(n: int) -> None:
        def answer(request):
            if len(dying.chats()) == n:
                threading.Timer(0.02, dying.stop).start()  # mid-answer: its streams are cut
            return "A caption from the dying one."

        dying.add_model("minicpm-v", answer=answer)

    die_after(5)
    photos = make_photos(tmp_path / "photos", 24)
    args = ["batch", str(tmp_path / "photos"), "--preset", "caption", "--base-url", live.url, "--base-url", dying.url]
    result = run_mcv([*args, "--output", str(tmp_path / "out.jsonl")], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    got = records((tmp_path / "out.jsonl").read_text())
    assert sorted(r["path"] for r in got) == sorted(str(p) for p in photos)  # nothing lost, nothing twice
    assert all(r["error"] is None for r in got)
    from_dying = [r for r in got if r["answer"] == "A caption from the dying one."]
    assert 1 <= len(from_dying) <= 5 and dying.answered == len(from_dying)
    assert live.answered == 24 - len(from_dying)
    assert all(r["answer"] in ("A caption from the live one.", "A caption from the dying one.") for r in got)  # whole answers
    assert "(4 at once)" in result.stderr  # two endpoints of one slot, plus one queued at each
    assert "dropped" in result.stderr or "nothing answers" in result.stderr  # it did die mid-batch


def test_the_api_key_is_in_no_output_record_or_history(openai_standin, mcv_env, photo_jpeg, tmp_path):
    key = "sk-cli-test-5f1e0c9a7b3d-secret"
    openai_standin.add_model("minicpm-v", answer="A red square on white.")
    openai_standin.api_key = key
    env = {**mcv_env, "OPENAI_BASE_URL": openai_standin.url, "OPENAI_API_KEY": key}
    runs = [
        run_mcv(["ask", "-b", "openai", str(photo_jpeg), "what?", "--json"], environ=env),
        run_mcv(["chat", "-b", "openai", str(photo_jpeg)], environ=env, stdin=b"what?\n"),
        run_mcv(["batch", str(photo_jpeg), "-b", "openai", "--preset", "caption"], environ=env),
        run_mcv(["ask", "-b", "openai", str(photo_jpeg), "what?"], environ={**env, "OPENAI_API_KEY": key[::-1]}),  # 401
        run_mcv(["config", "show", "--json"], environ=env),
    ]
    assert [r.exit_code for r in runs] == [0, 0, 0, 1, 0], [r.stderr for r in runs]
    assert "401" in runs[3].stderr
    for result in runs:
        assert key not in result.stdout + result.stderr and key[::-1] not in result.stdout + result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "history.db" for p in written)  # the asks were logged: and not the key
    for path in written:
        assert key.encode() not in path.read_bytes(), path


@pytest.mark.timeout(60)
@pytest.mark.parametrize("silence", ["chat", "everything"])
def test_ask_against_a_stalled_server_fails_in_one_line(openai_standin, mcv_env, photo_jpeg, silence):
    openai_standin.add_model("minicpm-v", answer="A red square on white.")
    if silence == "chat":
        openai_standin.fail("stall")  # /models answers, the chat gets not one byte
    else:
        openai_standin.freeze()  # as if SIGSTOPped: /models is never answered either
    env = {**mcv_env, "MCV_OPENAI_STALL_TIMEOUT": "0.5"}
    started = time.monotonic()
    result = run_mcv(["ask", "--base-url", openai_standin.url, str(photo_jpeg), "hi"], environ=env)
    elapsed = time.monotonic() - started
    assert result.exit_code == 1 and result.stdout == "" and "Traceback" not in result.stderr
    message, *hint = result.stderr.splitlines()
    assert message == f"mcv: error: {openai_standin.url} stalled: nothing from it for 0.5 s (stopped, or its machine unreachable?)"
    assert len(hint) <= 1 and "openai.stall_timeout" in hint[0]
    assert 0.5 <= elapsed < 20  # gave up after the silence, instead of waiting for ever
    assert [r.stalled for r in openai_standin.requests][-1]


@pytest.mark.timeout(120)
def test_batch_over_two_endpoints_survives_one_going_silent_half_way(openai_standins, mcv_env, tmp_path):
    live, frozen = openai_standins(chunk_delay=0.01), openai_standins(chunk_delay=0.01)
    live.add_model("minicpm-v", answer="A caption from the live one.")

    def answer(request):
        if len(frozen.chats()) == 5:
            threading.Timer(0.02, frozen.freeze).start()  # mid-answer: its streams go silent, not closed
        return "A caption from the frozen one."

    frozen.add_model("minicpm-v", answer=answer)
    photos = make_photos(tmp_path / "photos", 24)
    env = {**mcv_env, "MCV_OPENAI_STALL_TIMEOUT": "1"}
    args = ["batch", str(tmp_path / "photos"), "--preset", "caption", "--base-url", live.url, "--base-url", frozen.url]
    result = run_mcv([*args, "--output", str(tmp_path / "out.jsonl")], environ=env)
    assert result.exit_code == 0, result.stderr
    got = records((tmp_path / "out.jsonl").read_text())
    assert sorted(r["path"] for r in got) == sorted(str(p) for p in photos)  # nothing lost, nothing twice
    assert all(r["error"] is None for r in got)
    from_frozen = [r for r in got if r["answer"] == "A caption from the frozen one."]
    assert 1 <= len(from_frozen) <= 5 and frozen.answered == len(from_frozen)
    assert live.answered == 24 - len(from_frozen)
    assert all(r["answer"] in ("A caption from the live one.", "A caption from the frozen one.") for r in got)  # whole answers
    assert any(r.stalled for r in frozen.requests)  # it did go silent mid-batch
    assert "stalled" in result.stderr
