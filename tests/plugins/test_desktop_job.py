"""`mcv describe|ocr|alt|ask-dialog` end to end against the Ollama stand-in: one job over the core
session, the presets' prompts, paths and file:// URIs, failures shown in a dialog that says how to
fix them. Dialog tools are recording stand-ins on PATH here (the real zenity: test_desktop_xvfb.py)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import quote_from_bytes

import pytest
from support.cli import run_mcv
from support.desktop import Recorder, hostile_folder, tools

from mcv.core.presets import BUILT_IN


@pytest.fixture
def daemon(ollama_standin, mcv_env, no_session_bus):
    """A vision model whose answer names the prompt it got; mcv pointed at it; no notifications."""

    def answer(request):
        prompt = request["messages"][-1]["content"]
        preset = next((name for name, p in BUILT_IN.items() if p.prompt in prompt), "question")
        return f"<{preset}> answer & more"

    ollama_standin.add_model("minicpm-v", answer=answer)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    mcv_env.pop("DISPLAY", None)
    mcv_env.pop("WAYLAND_DISPLAY", None)
    return ollama_standin, mcv_env


@pytest.fixture
def zenity(tmp_path, mcv_env):
    """A recording zenity first on PATH, and a DISPLAY, so mcv shows its dialogs with it."""
    recorder = Recorder.install(tmp_path / "tools", "zenity", exit_code=1)  # Close
    mcv_env["PATH"] = f"{recorder.program.parent}:{mcv_env['PATH']}"
    mcv_env["DISPLAY"] = ":999"
    mcv_env["XDG_CURRENT_DESKTOP"] = "XFCE"
    return recorder


def test_describe_print_hostile_relative_names_one_turn_each(daemon, tmp_path, monkeypatch):
    standin, env = daemon
    folder, paths = hostile_folder(tmp_path)
    monkeypatch.chdir(folder)  # as a Nautilus script: names relative to the folder, `-rf x.png` first
    names = [os.fsdecode(os.path.basename(path)) for path in paths]
    result = run_mcv(["describe", "--print", "--", *names], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("== ") == len(names) and result.stdout.count("<describe> answer & more") == len(names)
    chats = standin.requests_to("/api/chat")
    assert len(chats) == len(names)  # one turn per image, one job
    assert all(len(chat.json["messages"][-1]["images"]) == 1 for chat in chats)
    assert all(chat.json["messages"][-1]["content"].endswith(BUILT_IN["describe"].prompt) for chat in chats)


def test_ocr_takes_file_uris(daemon, tmp_path):
    standin, env = daemon
    _, paths = hostile_folder(tmp_path)
    uri = "file://" + quote_from_bytes(paths[2])  # quo"te $(id).png
    result = run_mcv(["ocr", "--print", "--", uri], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "<ocr> answer & more\n"
    chat = standin.requests_to("/api/chat")[-1].json
    assert chat["options"]["temperature"] == 0 and chat["messages"][0]["content"] == BUILT_IN["ocr"].system


def test_a_remote_uri_is_refused_in_one_line(daemon):
    _, env = daemon
    result = run_mcv(["describe", "--print", "--", "sftp://host/a.png"], environ=env)
    assert result.exit_code == 2 and "is not a local file" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2


def test_options_after_the_separator_are_files(daemon, tmp_path):
    _, env = daemon
    result = run_mcv(["describe", "--print", "--", "--dialog"], environ=env)
    assert result.exit_code == 2 and "--dialog" in result.stderr  # a missing file, not an option


def test_nothing_selected_says_so(daemon):
    _, env = daemon
    result = run_mcv(["describe", "--print", "--"], environ=env)  # a Nautilus script on remote files
    assert result.exit_code == 2 and "no local file was selected" in result.stderr


def test_one_output_at_a_time(daemon, tmp_path):
    _, env = daemon
    result = run_mcv(["describe", "--print", "--notify", "--", "x.png"], environ=env)
    assert result.exit_code == 2 and "choose one of" in result.stderr


def test_many_files_one_dialog(daemon, zenity, tmp_path):
    standin, env = daemon
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["describe", "--", *map(os.fsdecode, paths[:4])], environ=env)
    assert result.exit_code == 0, result.stderr
    (call,) = zenity.calls()  # one dialog for the four answers
    assert "--text-info" in call.args and "--ok-label=Copy" in call.args
    assert "--title=Description — 4 images" in call.args
    (text,) = call.files.values()  # a long answer goes through a file, as plain text
    assert text.count("<describe> answer & more") == 4 and "-rf x.png\n" in text
    assert "\nnew\\nline.png\n" in text  # a newline in a name does not make a header of its own


def test_short_answer_dialog_is_escaped_markup(daemon, zenity, tmp_path):
    _, env = daemon
    _, paths = hostile_folder(tmp_path)
    assert run_mcv(["describe", "--", os.fsdecode(paths[0])], environ=env).exit_code == 0
    (call,) = zenity.calls()
    assert "--info" in call.args and "--text=&lt;describe&gt; answer &amp; more" in call.args
    assert "--title=Description — -rf x.png" in call.args


def test_daemon_down_is_a_dialog_that_says_how_to_fix_it(ollama_standin, mcv_env, zenity, tmp_path, no_session_bus):
    ollama_standin.stop()
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["describe", "--", os.fsdecode(paths[0])], environ=mcv_env)
    assert result.exit_code == 1
    (call,) = zenity.calls()
    assert "--error" in call.args
    text = next(arg for arg in call.args if arg.startswith("--text="))
    assert "How to fix it:" in text and "ollama serve" in text


def test_missing_model_is_a_dialog_too(ollama_standin, mcv_env, zenity, tmp_path, no_session_bus):
    ollama_standin.add_model("llava", answer="x")
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["describe", "--", os.fsdecode(paths[0])], environ=mcv_env)
    assert result.exit_code != 0
    (call,) = zenity.calls()
    assert "--error" in call.args and "How to fix it:" in next(a for a in call.args if a.startswith("--text="))


def test_an_unreadable_file_fails_alone(daemon, zenity, tmp_path):
    _, env = daemon
    _, paths = hostile_folder(tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    result = run_mcv(["describe", "--", os.fsdecode(paths[0]), str(broken)], environ=env)
    assert result.exit_code == 3  # some failed
    (call,) = zenity.calls()
    (text,) = call.files.values() if call.files else [next(a for a in call.args if a.startswith("--text="))]
    assert "<describe> answer & more" in text or "&lt;describe&gt;" in text
    assert "broken.png" in text and "failed" in text


def test_ask_dialog_asks_then_answers_about_all_images(daemon, tmp_path, mcv_env):
    standin, env = daemon
    standin.find("minicpm-v").answer = lambda request: "Both are test pictures."
    asker = Recorder.install(tmp_path / "tools", "zenity", stdout="What is the same in these?\n", exit_code=0)
    env.update(PATH=f"{asker.program.parent}:{env['PATH']}", DISPLAY=":999", XDG_CURRENT_DESKTOP="XFCE")
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["ask-dialog", "--", *map(os.fsdecode, paths[:2])], environ=env)
    assert result.exit_code == 0, result.stderr
    (chat,) = standin.requests_to("/api/chat")  # one question about both
    assert chat.json["messages"][-1]["content"].endswith("\nWhat is the same in these?")
    assert len(chat.json["messages"][-1]["images"]) == 2
    entry, shown = asker.calls()
    assert "--entry" in entry.args and "--text=Your question about these 2 images:" in entry.args


@pytest.mark.skipif(not tools("xclip"), reason="needs xclip")
def test_alt_copies_to_the_clipboard(daemon, zenity, display, tmp_path):
    _, env = daemon
    env["DISPLAY"] = display
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["alt", "--", os.fsdecode(paths[1])], environ=env)
    assert result.exit_code == 0, result.stderr
    pasted = subprocess.run(["xclip", "-o", "-selection", "clipboard"], env={**os.environ, "DISPLAY": display},
                            capture_output=True, timeout=10)  # fmt: skip
    assert pasted.stdout.decode() == "<alt> answer & more"
    # No notification server here: what was copied is shown in a dialog instead.
    (call,) = zenity.calls()
    assert any(arg.startswith("--title=Alt text copied") for arg in call.args)


def test_desktop_help_is_light(mcv_env):
    result = subprocess.run(
        [os.fspath(Path(os.sys.executable)), "-X", "importtime", "-m", "mcv", "describe", "--help"],
        capture_output=True, text=True, env=mcv_env, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0 and "-- FILE..." in result.stdout
    for heavy in ("desktop_notifier", "dbus_fast", "numpy", "pydantic"):
        assert f" {heavy}" not in result.stderr, heavy


def test_alt_with_every_file_failing_copies_nothing(daemon, zenity, tmp_path):
    _, env = daemon
    broken = []
    for name in ("one.png", "two.png"):
        (tmp_path / name).write_bytes(b"not an image")
        broken.append(str(tmp_path / name))
    xclip = Recorder.install(zenity.program.parent, "xclip")  # on PATH beside the zenity stand-in
    result = run_mcv(["alt", "--", *broken], environ=env)
    assert result.exit_code == 2
    assert xclip.calls() == []  # nothing was copied
    (call,) = zenity.calls()
    text = "".join(call.files.values()) or next(a for a in call.args if a.startswith("--text="))
    assert "one.png" in text and "two.png" in text and text.count("failed") == 2


def test_answers_already_had_are_kept_when_the_engine_fails_mid_job(daemon, zenity, tmp_path):
    standin, env = daemon
    _, paths = hostile_folder(tmp_path)

    def answer_then_fail(request):
        # After the first answer every connection is cut: the daemon died between two images.
        standin.inject_chat_failure("drop", count=50, after=0)
        return "<first> answer"

    standin.find("minicpm-v").answer = answer_then_fail
    result = run_mcv(["describe", "--", *map(os.fsdecode, paths[:3])], environ=env)
    assert result.exit_code == 3  # some failed: the first answer is not thrown away
    (call,) = zenity.calls()
    text = "".join(call.files.values()) or next(a for a in call.args if a.startswith("--text="))
    assert "<first> answer" in text or "&lt;first&gt; answer" in text
    assert text.count("(failed: lost the connection") == 1 and text.count("(not asked") == 1


def test_a_name_that_only_looks_like_a_uri_is_that_file(daemon, tmp_path, monkeypatch):
    standin, env = daemon
    monkeypatch.chdir(tmp_path)  # a Nautilus script hands over `file:x.png` relative to the folder
    _, paths = hostile_folder(tmp_path)
    os.link(paths[0], tmp_path / "file:x.png")  # and there is no x.png
    result = run_mcv(["describe", "--print", "--", "file:x.png"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "<describe> answer & more\n" and len(standin.requests_to("/api/chat")) == 1


@pytest.mark.parametrize("uri", ["file://otherhost/tmp/a.png", "FILE://server.example/share/a.png"])
def test_a_file_uri_on_another_host_is_refused(daemon, uri):
    _, env = daemon
    result = run_mcv(["describe", "--print", "--", uri], environ=env)
    assert result.exit_code == 2 and "is not a local file" in result.stderr


def test_file_uris_for_this_host(daemon, tmp_path):
    _, env = daemon
    _, paths = hostile_folder(tmp_path)
    quoted = quote_from_bytes(paths[1])
    result = run_mcv(["describe", "--print", "--", f"file://localhost{quoted}", f"file:{quoted}"], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("<describe> answer & more") == 2


def test_print_names_a_failed_file_once(daemon, tmp_path):
    _, env = daemon
    _, paths = hostile_folder(tmp_path)
    missing = str(tmp_path / "missing.png")
    result = run_mcv(["describe", "--print", "--", os.fsdecode(paths[0]), missing], environ=env)
    assert result.exit_code == 3
    assert result.stderr.splitlines()[0] == "mcv: error: missing.png: no such file"
