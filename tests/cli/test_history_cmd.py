"""`mcv ask` answers in the history (and --no-log, the config key, an unwritable folder);
`mcv history ls | show | rm | export`; `mcv chat` from a pipe."""

from __future__ import annotations

import json
import os
import sqlite3

import pytest
from support.cli import run_mcv

from mcv.core.history import history_path


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A red square.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url}


def test_ask_is_logged_after_the_answer(environ, photo_jpeg):
    result = run_mcv(["ask", str(photo_jpeg), "what is it?"], environ=environ)
    assert result.exit_code == 0 and result.stdout == "A red square.\n"
    listed = run_mcv(["history", "ls"], environ=environ)
    assert listed.exit_code == 0
    (row,) = listed.stdout.splitlines()[1:]
    assert row.split()[:2] == ["1", "ask"] and row.endswith("what is it?") and " 2     1  " in row
    shown = run_mcv(["history", "show", "1"], environ=environ)
    assert "## You\n[image: " in shown.stdout and "what is it?\n\n## minicpm-v\nA red square.\n" in shown.stdout


def test_no_log_and_the_config_key(environ, photo_jpeg):
    assert run_mcv(["ask", "--no-log", str(photo_jpeg)], environ=environ).exit_code == 0
    assert run_mcv(["ask", str(photo_jpeg)], environ={**environ, "MCV_HISTORY_LOG": "false"}).exit_code == 0
    assert run_mcv(["config", "set", "history.log", "off"], environ=environ).exit_code == 0
    assert run_mcv(["ask", str(photo_jpeg)], environ=environ).exit_code == 0
    listed = run_mcv(["history", "ls"], environ=environ)
    assert listed.stdout == "" and "the history is empty" in listed.stderr


def test_an_unwritable_data_folder_costs_one_line_not_the_answer(environ, photo_jpeg, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = run_mcv(["ask", str(photo_jpeg), "hi"], environ={**environ, "MCV_DATA_DIR": str(blocker / "mcv")})
    assert result.exit_code == 0 and result.stdout == "A red square.\n"
    (line,) = result.stderr.splitlines()
    assert line.startswith("mcv: not kept in the history: cannot open the history database")


def test_rm_and_export(environ, photo_jpeg, tmp_path):
    run_mcv(["ask", str(photo_jpeg), "first"], environ=environ)
    run_mcv(["ask", str(photo_jpeg), "second"], environ=environ)
    exported = run_mcv(["history", "export", "2", "--format", "json"], environ=environ)
    document = json.loads(exported.stdout)
    assert [m["content"] for m in document["messages"]] == ["second", "A red square."]
    assert len(document["images"]) == 1
    target = tmp_path / "two.md"
    assert run_mcv(["history", "export", "2", "-o", str(target)], environ=environ).exit_code == 0
    assert target.read_text().startswith("<!-- mcv-chat 1")
    again = run_mcv(["history", "export", "2", "-o", str(target)], environ=environ)
    assert again.exit_code == 2 and "exists: not replacing it" in again.stderr
    removed = run_mcv(["history", "rm", "1"], environ=environ)
    assert removed.exit_code == 0 and "deleted ask 1: first" in removed.stderr
    missing = run_mcv(["history", "show", "1"], environ=environ)
    assert missing.exit_code == 2 and missing.stderr.startswith("mcv: error: no conversation 1 in the history")
    bad = run_mcv(["history", "export", "2", "--format", "pdf"], environ=environ)
    assert bad.exit_code == 2


def test_chat_from_a_pipe_is_plain_and_draws_no_thumbnails(environ, photo_jpeg, receipt_png, ollama_standin):
    lines = f'what is it?\n/image {receipt_png}\n"""two\nlines"""\n/images\n/exit\n'.encode()
    result = run_mcv(["chat", str(photo_jpeg)], environ={**environ, "MCV_CHAT_PREVIEW": "blocks"}, stdin=lines)
    assert result.exit_code == 0
    assert result.stdout == "A red square.\nA red square.\n"  # answers only, plain
    assert "▀" not in result.stdout + result.stderr
    assert "image 2: receipt.png" in result.stderr and "2  receipt.png" in result.stderr
    requests = [r.json for r in ollama_standin.requests_to("/api/chat")]
    assert requests[-1]["messages"][-1]["content"] == "[img]\ntwo\nlines"
    assert "chat 1 is in the history" in result.stderr
    assert run_mcv(["history", "ls", "--kind", "chat"], environ=environ).stdout.count("\n") == 2


def test_chat_refuses_what_is_not_an_image(environ):
    result = run_mcv(["chat", "nothing-here.png"], environ=environ)
    assert result.exit_code == 2 and result.stderr == "mcv: error: nothing-here.png: no such file\n"
    result = run_mcv(["chat", "--continue"], environ=environ)
    assert result.exit_code == 2 and "no chat to continue yet" in result.stderr


def test_chat_commands_from_a_pipe(environ, photo_jpeg, ollama_standin):
    ollama_standin.add_model("other-model", answer="Other.")
    lines = (
        "/system Answer in French.\n/system\nhi\n/model nobody-has-this\n/model other-model\nagain\n"
        "/copy\n/paste\n/frobnicate\n/undo\n/exit\n"
    ).encode()
    environ = {k: v for k, v in environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    result = run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=lines)
    assert result.exit_code == 1  # piped: the exit code of the first line that failed (the unknown model)
    assert result.stdout == "A red square.\nOther.\n"
    errors = [line for line in result.stderr.splitlines() if line.startswith("mcv: error:")]
    assert len(errors) == 4, result.stderr  # unknown model, /copy and /paste without a display, /frobnicate
    assert "system prompt: Answer in French." in result.stderr
    assert "model 'nobody-has-this' is not in Ollama" in errors[0]
    assert "no graphical session" in errors[1] and "no graphical session" in errors[2]
    assert errors[3] == "mcv: error: unknown command /frobnicate (/help lists them)"
    assert "forgot the last question (again) and its answer" in result.stderr
    first, second = [r.json for r in ollama_standin.requests_to("/api/chat")]
    assert first["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert second["model"] == "other-model"
    assert second["messages"][:3] == [*first["messages"], {"role": "assistant", "content": "A red square."}]


def test_ls_and_prune_check_their_options(environ, photo_jpeg):
    run_mcv(["ask", str(photo_jpeg), "first"], environ=environ)
    for args in (["history", "ls", "--kind", "foo"], ["history", "prune", "--older-than", "30d", "--kind", "chats"],
                 ["history", "prune", "--older-than", "soon"], ["history", "ls", "-n", "-1"]):
        result = run_mcv(args, environ=environ)
        assert result.exit_code == 2 and result.stderr.startswith("mcv: error: "), args
    assert run_mcv(["history", "ls", "--kind", "ask"], environ=environ).stdout.count("\n") == 2


def test_prune_deletes_what_is_older_and_says_so(environ, photo_jpeg):
    run_mcv(["ask", str(photo_jpeg), "first"], environ=environ)
    kept = run_mcv(["history", "prune", "--older-than", "1d"], environ=environ)
    assert kept.exit_code == 0 and "deleted 0 conversations older than 1d" in kept.stderr
    assert run_mcv(["history", "ls"], environ=environ).stdout.count("\n") == 2
    with sqlite3.connect(history_path(environ)) as db:
        db.execute("UPDATE conversations SET updated_at = '2020-01-01T00:00:00Z'")
    pruned = run_mcv(["history", "prune", "--older-than", "1y", "--kind", "ask"], environ=environ)
    assert pruned.exit_code == 0 and "deleted 1 asks older than 1y; the file shrank by " in pruned.stderr
    assert "the history is empty" in run_mcv(["history", "ls"], environ=environ).stderr


def test_ask_and_chat_about_a_file_whose_name_is_not_utf8(environ, photo_jpeg, tmp_path):
    raw = bytes(tmp_path) + b"/re\xe7u \xff.jpg"
    with open(raw, "wb") as file:
        file.write(photo_jpeg.read_bytes())
    name = os.fsdecode(raw)  # as sys.argv holds it
    asked = run_mcv(["ask", name, "what is it?"], environ=environ)
    assert (asked.exit_code, asked.stdout) == (0, "A red square.\n") and asked.stderr == ""
    saved = tmp_path / "t.md"
    chat = run_mcv(["chat", name], environ=environ, stdin=f"hi\n/save {saved}\nagain\n".encode())
    assert chat.exit_code == 0 and chat.stdout == "A red square.\nA red square.\n"
    assert "Traceback" not in chat.stderr and "chat 2 is in the history" in chat.stderr
    unlogged = run_mcv(["chat", "--no-log", name], environ=environ, stdin=f"/save {tmp_path / 'u.json'}\n".encode())
    assert unlogged.exit_code == 0 and "saved to" in unlogged.stderr
    label = "re\ufffdu \ufffd.jpg"
    assert f"[image: {tmp_path}/{label}, " in run_mcv(["history", "show", "1"], environ=environ).stdout
    assert label in saved.read_text(encoding="utf-8")
    assert label in (tmp_path / "u.json").read_text(encoding="utf-8")
