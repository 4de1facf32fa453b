"""The chat loop's faults and edges, without a terminal: a scripted reader types the lines
(what a person would), against the strict Ollama stand-in; piped chats through run_mcv.

The real terminal (prompt_toolkit on a pty) is in test_chat_tty.py.
"""

from __future__ import annotations

import io
import sqlite3

import pytest
from support.cli import run_mcv
from support.images import make_photo, png_bytes

from mcv.cli.chat.line_input import EndOfInput
from mcv.cli.chat.loop import ChatLoop
from mcv.cli.env import Environment
from mcv.cli.render.preview import Previewer
from mcv.core.history import History, HistoryError, history_path
from mcv.core.session import Session
from mcv.core.settings import Settings


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer=lambda request: f"Answer to {request['messages'][-1]['content']!r}.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url}


def chats(standin) -> list[dict]:
    return [request.json for request in standin.requests_to("/api/chat")]


class Script:
    """A reader that types `lines` (an exception in the list is raised, as Ctrl-C would be);
    it records what each prompt was pre-filled with and what went into the input history."""

    def __init__(self, lines):
        self.lines = list(lines)
        self.defaults: list[str] = []
        self.remembered: list[str] = []

    def read(self, prompt, default=""):
        self.defaults.append(default)
        if not self.lines:
            raise EndOfInput("")
        line = self.lines.pop(0)
        if isinstance(line, BaseException):
            raise line
        return line() if callable(line) else line

    def remember(self, text):
        self.remembered.append(text)

    def up(self):
        """The Up key: the latest remembered line."""
        return lambda: self.remembered[-1]


class Text(io.StringIO):
    def isatty(self):
        return False


def make_loop(environ, script, *, interactive=True, history=None, model=None):
    env = Environment(
        stdin=io.BytesIO(), stdout=Text(), stderr=Text(), stdin_isatty=interactive,
        stdout_isatty=False, stderr_isatty=False, environ=environ,
    )
    session = Session(Settings.load(environ, flags={"model": model}))
    loop = ChatLoop(env, session, session.conversation(), reader=script, previewer=Previewer(env, "off"), history=history)
    return loop


def err(loop) -> str:
    return loop.env.stderr.getvalue()


# --- nothing typed is lost, nothing is glued together ---------------------------------------------


def test_a_question_the_engine_cannot_take_is_one_up_away_and_the_fix_is_a_command(environ, ollama_standin):
    script = Script(["what is it?", "/model minicpm-v"])
    script.lines.append(script.up())
    loop = make_loop(environ, script, model="nobody-has-this")
    assert loop.run() == 0
    assert script.defaults == ["", "", "", ""]  # never pre-filled: "/model ..." stays a command
    assert script.remembered == ["what is it?"]
    assert "model 'nobody-has-this' is not in Ollama" in err(loop) and "your question is kept: Up brings it back" in err(loop)
    (request,) = chats(ollama_standin)
    assert request["model"] == "minicpm-v" and request["messages"][-1]["content"] == "what is it?"


def test_a_failed_turn_keeps_the_question_and_leaving_keeps_it_as_the_draft(environ, ollama_standin):
    ollama_standin.find("minicpm-v").error_after = 0
    history = History.open(environ)
    script = Script(["what is it?"])
    loop = make_loop(environ, script, history=history)
    loop.run()
    assert script.remembered == ["what is it?"] and script.defaults == ["", ""]
    number = History.open(environ).latest("chat")
    assert History.open(environ).read(number).draft == "what is it?"  # `mcv chat --continue` brings it back


def test_ctrl_c_while_the_engine_is_found_keeps_the_question(environ, ollama_standin, monkeypatch):
    script = Script(["what is it?", "/images"])
    loop = make_loop(environ, script)
    real = loop.session.capabilities
    calls = iter([KeyboardInterrupt(), None])

    def slow_lookup(*args):
        outcome = next(calls)
        if outcome is not None:
            raise outcome
        return real(*args)

    monkeypatch.setattr(loop.session, "capabilities", slow_lookup)
    assert loop.run() == 0  # the chat went on to the next line
    assert script.remembered == ["what is it?"] and "mcv: interrupted" in err(loop)
    assert chats(ollama_standin) == [] and "no images yet" in err(loop)


def test_a_line_starting_with_a_slash_is_never_sent(environ, ollama_standin, tmp_path):
    script = Script(["/model-x", "/2", f"{tmp_path}/missing.png", "/no/such/place what is this"])
    loop = make_loop(environ, script, interactive=False)
    assert loop.run() == 2
    assert chats(ollama_standin) == []
    assert "unknown command /model-x" in err(loop) and "unknown command /2" in err(loop)
    assert f"{tmp_path}/missing.png: no such file" in err(loop) and "/no/such/place: no such file" in err(loop)


def test_a_pasted_list_of_files_is_attached(environ, ollama_standin, tmp_path):
    for seed, name in enumerate(("a.png", "b.png", "Screen Shot 1.png", "Screen Shot 2.png")):
        (tmp_path / name).write_bytes(png_bytes(make_photo(64, 48, seed=seed)))  # four pictures, not two
    paste = f"{(tmp_path / 'a.png').as_uri()}\r\n{(tmp_path / 'b.png').as_uri()}\r\n"  # as a file manager copies them
    dropped = f"{tmp_path}/Screen\\ Shot\\ 1.png {tmp_path}/Screen\\ Shot\\ 2.png "  # two files dropped on macOS Terminal
    script = Script([paste, "compare them", dropped, "and these?"])
    loop = make_loop(environ, script)
    loop.run()
    first, second = chats(ollama_standin)
    assert first["messages"][-1]["content"] == "[img]\n[img]\ncompare them" and len(first["messages"][-1]["images"]) == 2
    assert second["messages"][-1]["content"] == "[img]\n[img]\nand these?" and len(second["messages"][-1]["images"]) == 2
    assert "image 3: Screen Shot 1.png" in err(loop) and "image 4: Screen Shot 2.png" in err(loop)


# --- the history: Ctrl-C, a locked file, nothing changed --------------------------------------------


class FlakyHistory:
    """A History whose first save fails with `failure` (Ctrl-C, a locked file), then works."""

    def __init__(self, environ, failure):
        self.real = History.open(environ)
        self.failures = [failure]

    def save(self, *args, **kwargs):
        if self.failures:
            raise self.failures.pop()
        return self.real.save(*args, **kwargs)


@pytest.mark.parametrize("failure", [KeyboardInterrupt(), HistoryError("cannot write the history database: database is locked")])
def test_a_history_write_that_fails_is_tried_again_after_the_next_line(environ, ollama_standin, failure):
    history = FlakyHistory(environ, failure)
    script = Script(["first", "second", "/exit"])
    loop = make_loop(environ, script, history=history)
    assert loop.run() == 0
    assert len(script.defaults) == 3  # the chat went on after the failed write
    assert err(loop).count("the history was not written") == 1 and "trying again after the next line" in err(loop)
    assert "the history is written again" in err(loop)
    record = History.open(environ).read(History.open(environ).latest("chat"))
    assert [m.content for m in record.transcript.messages] == ["first", "Answer to 'first'.", "second", "Answer to 'second'."]


def test_leaving_a_resumed_chat_untouched_changes_nothing(environ, ollama_standin, photo_jpeg, monkeypatch):
    first = run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=b"hi\n")
    assert first.exit_code == 0
    with sqlite3.connect(history_path(environ)) as db:
        (before,) = db.execute("SELECT updated_at FROM conversations").fetchone()
    monkeypatch.setattr("mcv.core.history.store._now", lambda: "2099-01-01T00:00:00Z")
    again = run_mcv(["chat", "--continue"], environ=environ, stdin=b"")
    assert again.exit_code == 0 and "chat 1 is in the history" in again.stderr
    with sqlite3.connect(history_path(environ)) as db:
        assert db.execute("SELECT updated_at FROM conversations").fetchone() == (before,)
    run_mcv(["chat", "--continue"], environ=environ, stdin=b"/set num_ctx 8192\n")  # a change is kept
    with sqlite3.connect(history_path(environ)) as db:
        assert db.execute("SELECT updated_at FROM conversations").fetchone() == ("2099-01-01T00:00:00Z",)


def test_continue_restores_options_and_thinking_and_takes_a_new_system_prompt(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("thinker", answer="Thought.", thinking=True)
    lines = b"/set num_ctx 8192\n/set temperature=0.3\n/think on\nhi\n"
    assert run_mcv(["chat", "-m", "thinker", "-s", "Be brief.", str(photo_jpeg)], environ=environ, stdin=lines).exit_code == 0
    resumed = run_mcv(["chat", "--continue", "-s", "Answer in French.", "-o", "temperature=0.9"], environ=environ, stdin=b"again\n")
    assert resumed.exit_code == 0
    first, second = chats(ollama_standin)
    assert first["messages"][0] == {"role": "system", "content": "Be brief."} and first["think"] is True
    assert second["model"] == "thinker" and second["think"] is True
    assert second["options"] == {"num_ctx": 8192, "temperature": 0.9}  # the command line beats the saved value
    assert second["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert second["messages"][1:3] == first["messages"][1:] + [{"role": "assistant", "content": "Thought."}]


# --- piped chats --------------------------------------------------------------------------------


def test_a_piped_chat_exits_with_its_first_failure(environ, ollama_standin, photo_jpeg):
    ollama_standin.find("minicpm-v").error_after = 0
    result = run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=b"one\n")
    assert result.exit_code == 1 and "mcv: error: " in result.stderr
    ollama_standin.find("minicpm-v").error_after = None
    assert run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=b"one\ntwo\n").exit_code == 0


def test_a_piped_chat_sends_an_overflowing_question_with_the_warning(environ, ollama_standin, photo_jpeg):
    result = run_mcv(["chat", "-o", "num_ctx=300", str(photo_jpeg)], environ=environ, stdin=b"what is it?\n")
    assert "this turn would overflow the context" in result.stderr and "sending it anyway" in result.stderr
    assert result.stdout == "Answer to '[img]\\nwhat is it?'.\n"
    assert len(chats(ollama_standin)) == 1


def test_with_no_image_the_overflow_warning_does_not_offer_drop(environ, ollama_standin):
    result = run_mcv(["chat", "-o", "num_ctx=40"], environ=environ, stdin=("word " * 200 + "\n").encode())
    assert "this turn would overflow the context" in result.stderr and "/drop" not in result.stderr


def test_the_recap_of_a_resumed_chat_goes_to_stderr_and_a_huge_question_is_shortened(environ, ollama_standin, photo_jpeg):
    ollama_standin.find("minicpm-v").answer = "Short."
    paste = "line of a pasted document " * 400
    assert run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=(paste + "\n").encode()).exit_code == 0
    resumed = run_mcv(["chat", "--continue"], environ=environ, stdin=b"")
    assert resumed.stdout == ""  # a piped chat's stdout is its new answers alone
    assert "continuing chat 1" in resumed.stderr and "\nShort.\n" in resumed.stderr
    assert "more characters)" in resumed.stderr and len(resumed.stderr) < len(paste)
    loaded = run_mcv(["chat"], environ=environ, stdin=b"")
    assert loaded.stdout == ""


# --- /set, /model, /think, hints -------------------------------------------------------------------


def test_set_takes_key_value_checks_names_and_ranges(environ, ollama_standin):
    lines = b"/set num_ctx=8192\n/set colour\n/set num_ctx -1\n/set top_p 2\n/set seed\n/set\nhi\n"
    result = run_mcv(["chat"], environ=environ, stdin=lines)
    assert "num_ctx = 8192" in result.stderr
    assert "mcv: error: unknown option 'colour'" in result.stderr
    assert "mcv: error: option 'num_ctx' must be at least 1, not -1" in result.stderr
    assert "mcv: error: option 'top_p' must be at most 1, not 2" in result.stderr
    assert "seed is not set" in result.stderr and "num_ctx=8192" in result.stderr
    assert chats(ollama_standin)[-1]["options"] == {"num_ctx": 8192}
    assert result.exit_code == 2


def test_set_needs_no_daemon(mcv_env):
    environ = {**mcv_env, "OLLAMA_HOST": "http://127.0.0.1:9", "MCV_BACKEND": "ollama"}  # nothing listens there
    result = run_mcv(["chat"], environ=environ, stdin=b"/set num_ctx 8192\n/set temperature 0.2\n")
    assert result.exit_code == 0, result.stderr
    assert "num_ctx = 8192" in result.stderr and "temperature = 0.2" in result.stderr


def test_hints_name_chat_commands_and_model_turns_thinking_off(environ, ollama_standin):
    ollama_standin.add_model("thinker", answer="Thought.", thinking=True)
    result = run_mcv(["chat", "--think"], environ=environ, stdin=b"hi\n")
    assert "mcv: hint: /think off" in result.stderr and "--think" not in result.stderr
    lines = b"/think on\n/model minicpm-v\nhi\n"
    switched = run_mcv(["chat", "-m", "thinker"], environ=environ, stdin=lines)
    assert "thinking off: minicpm-v cannot think" in switched.stderr
    assert switched.exit_code == 0
    assert "think" not in chats(ollama_standin)[-1]


# --- the context limit -------------------------------------------------------------------------------


def test_the_context_limit_follows_ollama(environ, ollama_standin):
    result = run_mcv(["chat"], environ={**environ, "OLLAMA_CONTEXT_LENGTH": "2048"}, stdin=b"/stats\n")
    assert "of 2,048 tokens" in result.stderr
    ollama_standin.find("minicpm-v").context_length = 8192  # what /api/ps says once it is loaded
    result = run_mcv(["chat"], environ=environ, stdin=b"hi\n/stats\n")
    assert "of 8,192 tokens" in result.stderr


# --- images: /image with spaces, presets ---------------------------------------------------------


def test_image_takes_a_path_with_spaces_unquoted(environ, ollama_standin, tmp_path):
    folder = tmp_path / "My Pictures"
    folder.mkdir()
    (folder / "a b.png").write_bytes(png_bytes(make_photo(64, 48, seed=2)))
    lines = f"/image {folder}/a b.png\n/image {folder}/missing one.png\n/images\n".encode()
    result = run_mcv(["chat"], environ=environ, stdin=lines)
    assert f"image 1: {folder}/a b.png, 64x48" in result.stderr
    assert f"mcv: error: {folder}/missing one.png: no such file" in result.stderr


def test_a_preset_asks_its_question_about_the_images_given(environ, ollama_standin, photo_jpeg):
    from mcv.core.presets import BUILT_IN

    result = run_mcv(["chat", "-p", "describe", str(photo_jpeg)], environ=environ, stdin=b"and the colours?\n")
    assert result.exit_code == 0
    first, second = chats(ollama_standin)
    assert first["messages"][-1]["content"] == "[img]\n" + BUILT_IN["describe"].prompt_with(None)
    assert second["messages"][-1]["content"] == "and the colours?"
    bare = run_mcv(["chat", "-p", "describe"], environ=environ, stdin=b"")
    assert "preset describe: set up" in bare.stderr and bare.exit_code == 0


def test_chat_takes_the_clipboard_like_ask(environ):
    environ = {k: v for k, v in environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    for command in (["chat", "-c"], ["ask", "-c"]):
        result = run_mcv(command, environ=environ, stdin=b"")
        assert result.exit_code == 2 and "no graphical session" in result.stderr, command


def test_ctrl_c_in_a_piped_chat_stops_it_with_130_and_keeps_the_partial_answer(environ, ollama_standin, photo_jpeg, tmp_path):
    import signal
    import subprocess
    import sys

    words = " ".join(f"w{i}" for i in range(200))
    ollama_standin.add_model("minicpm-v", answer=words, delay=0.05)
    (tmp_path / "questions.txt").write_bytes(b"first\nsecond\n")
    with open(tmp_path / "questions.txt", "rb") as questions:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mcv", "chat", str(photo_jpeg)],
            env={**environ, "PYTHONUNBUFFERED": "1"}, stdin=questions, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
    assert proc.stdout.read(3) == b"w0 "  # the answer is streaming
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"w199" not in out
    assert len(chats(ollama_standin)) == 1  # the next line is not asked: Ctrl-C stops a script
    record = History.open(environ).read(History.open(environ).latest("chat"))
    question, answer = record.transcript.messages
    assert question.content == "first" and answer.interrupted and answer.content.startswith("w0 w1")


def test_piped_lines_with_a_byte_order_mark_and_crlf_ends(environ, ollama_standin):
    lines = '\ufeff/set num_ctx 8192\r\n"""\r\nline one\r\nline two\r\n"""\r\nhi\r\n'.encode()
    result = run_mcv(["chat"], environ=environ, stdin=lines)
    assert result.exit_code == 0, result.stderr
    first, second = chats(ollama_standin)
    assert first["options"] == {"num_ctx": 8192}  # the mark did not hide the command
    assert first["messages"][-1]["content"] == "line one\nline two" and second["messages"][-1]["content"] == "hi"


def test_an_error_has_the_hint_ask_gives(mcv_env, photo_jpeg):
    environ = {**mcv_env, "OLLAMA_HOST": "http://127.0.0.1:9", "MCV_BACKEND": "ollama"}  # nothing listens there
    asked = run_mcv(["ask", str(photo_jpeg), "hi"], environ=environ)
    chatted = run_mcv(["chat", str(photo_jpeg)], environ=environ, stdin=b"hi\n")
    assert asked.exit_code == chatted.exit_code == 1

    def said(stderr):
        return [line for line in stderr.splitlines() if line.startswith(("mcv: error:", "mcv: hint:"))]

    assert len(said(asked.stderr)) == 2 and said(chatted.stderr) == said(asked.stderr)


def test_a_flag_ask_and_chat_share_means_the_same_in_both():
    from mcv.cli.app import build_command

    commands = build_command().commands

    def flags(name):
        return {flag: (param.name, param.help) for param in commands[name].params for flag in getattr(param, "opts", []) if flag.startswith("-")}

    ask, chat = flags("ask"), flags("chat")
    shared = ask.keys() & chat.keys()
    assert {"-c", "-p", "-m", "-b", "-s", "-t", "-o", "--think", "--no-log", "--base-url"} <= shared
    assert {flag: ask[flag] for flag in shared} == {flag: chat[flag] for flag in shared}


def test_the_same_picture_is_not_attached_twice(environ, ollama_standin, tmp_path):
    """Dropped twice by mistake, or again after it was sent: every turn carries it already, so a
    second copy would only cost its image tokens again."""
    (tmp_path / "a.png").write_bytes(png_bytes(make_photo(64, 48, seed=1)))
    (tmp_path / "copy of a.png").write_bytes((tmp_path / "a.png").read_bytes())
    (tmp_path / "b.png").write_bytes(png_bytes(make_photo(64, 48, seed=2)))
    script = Script([f"/image {tmp_path}/a.png", f"{tmp_path}/a.png", "what is it?",
                     f"/image {tmp_path}/copy of a.png", f"/image {tmp_path}/b.png", "/images", "and now?"])  # fmt: skip
    loop = make_loop(environ, script)
    loop.run()
    first, second = chats(ollama_standin)
    assert len(first["messages"][-1]["images"]) == 1
    assert len(second["messages"][-1]["images"]) == 1  # b only; a rides in the first turn
    assert second["messages"][-1]["images"] != first["messages"][-1]["images"]
    shown = err(loop)
    assert shown.count("a.png: the same picture as image 1; not attached twice") == 2
    assert "image 1: " in shown and "image 2: " in shown and "image 3" not in shown
    assert [entry.image.label for entry in loop.conversation.image_entries()] == ["a.png", "b.png"]
