"""Notifications on a real session bus: a private `dbus-daemon --session`, a recording
org.freedesktop.Notifications server on it, and mcv talking to it through desktop-notifier."""

from __future__ import annotations

import os
import threading

import pytest
from support.cli import run_mcv
from support.desktop import hostile_folder, tools

pytestmark = pytest.mark.skipif(not tools("dbus-daemon"), reason="needs dbus-daemon")

ANSWER = "A <b>bold</b> claim & a 'quote'"


@pytest.fixture
def env(ollama_standin, mcv_env, notifications):
    ollama_standin.add_model("minicpm-v", answer=ANSWER)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama",
                   DBUS_SESSION_BUS_ADDRESS=notifications.address)  # fmt: skip
    mcv_env.pop("DISPLAY", None)
    mcv_env.pop("WAYLAND_DISPLAY", None)
    return mcv_env


def test_progress_then_the_escaped_answer(env, notifications, tmp_path):
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["describe", "--notify", "--", *map(os.fsdecode, paths[:2])], environ=env)
    assert result.exit_code == 0, result.stderr
    progress, answer = notifications.wait_for(lambda s: len(s.notes) >= 2 and s.notes)
    assert progress.app_name == answer.app_name == "mcv" and progress.icon == "image-x-generic"
    assert progress.summary == "Describing 2 images…" and progress.timeout == 0  # stays until replaced
    assert "minicpm-v" in progress.body
    assert progress.actions[progress.actions.index("cancel") + 1] == "Cancel"
    # The progress notification is taken down before the answer replaces it.
    assert notifications.closed == [progress.id] and answer.id != progress.id
    assert answer.summary == "Description — 2 images"
    # The server reads markup: the model's text is escaped, never interpreted.
    expected = "A &lt;b&gt;bold&lt;/b&gt; claim &amp; a &#39;quote&#39;"
    assert answer.body.count(expected) == 2 and "-rf x.png" in answer.body
    assert len(notifications.notes) == 2


def test_plain_bodies_for_a_server_without_markup(ollama_standin, mcv_env, session_bus, monkeypatch, tmp_path):
    from support.notification_server import NotificationServer

    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", session_bus)
    server = NotificationServer(session_bus, capabilities=("body",))  # no markup, no buttons
    try:
        ollama_standin.add_model("minicpm-v", answer=ANSWER)
        mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama", DBUS_SESSION_BUS_ADDRESS=session_bus)
        _, paths = hostile_folder(tmp_path)
        result = run_mcv(["describe", "--notify", "--", os.fsdecode(paths[0])], environ=mcv_env)
        assert result.exit_code == 0, result.stderr
        progress, answer = server.wait_for(lambda s: len(s.notes) >= 2 and s.notes)
        assert "cancel" not in progress.actions  # no buttons on this server: no Cancel offered
        assert answer.body == ANSWER and answer.summary == "Description — -rf x.png"
    finally:
        server.close()


def test_cancel_on_the_progress_notification_stops_the_model(ollama_standin, env, notifications, tmp_path):
    ollama_standin.find("minicpm-v").delay = 0.3  # a slow model: ~0.3 s per word
    ollama_standin.find("minicpm-v").answer = " ".join(["word"] * 200)
    _, paths = hostile_folder(tmp_path)

    def press_cancel():
        (progress,) = notifications.wait_for(lambda s: s.notes[:1])
        ollama_standin.wait_for(lambda: ollama_standin.requests_to("/api/chat"), timeout=10)
        notifications.press(progress.id, "cancel")

    presser = threading.Thread(target=press_cancel)
    presser.start()
    result = run_mcv(["describe", "--notify", "--", *map(os.fsdecode, paths[:3])], environ=env)
    presser.join(10)
    assert result.exit_code == 130
    assert len(notifications.notes) == 1 and notifications.dismissed == [notifications.notes[0].id]
    assert len(ollama_standin.requests_to("/api/chat")) == 1  # the other two files were never asked
    assert ollama_standin.wait_for(lambda: ollama_standin.requests_to("/api/chat")[0].cancelled, timeout=10)


def test_a_long_answer_goes_to_a_dialog(ollama_standin, env, notifications, tmp_path):
    from support.desktop import Recorder

    ollama_standin.find("minicpm-v").answer = "long " * 200
    zenity = Recorder.install(tmp_path / "tools", "zenity", exit_code=1)
    env.update(PATH=f"{zenity.program.parent}:{env['PATH']}", DISPLAY=":999")
    _, paths = hostile_folder(tmp_path)
    assert run_mcv(["describe", "--notify", "--", os.fsdecode(paths[0])], environ=env).exit_code == 0
    (call,) = zenity.calls()
    assert "--text-info" in call.args and list(call.files.values())[0].startswith("long long")
    assert len(notifications.notes) == 1  # only the progress one


def test_no_notification_server_still_answers(ollama_standin, mcv_env, no_session_bus, tmp_path):
    ollama_standin.add_model("minicpm-v", answer=ANSWER)
    mcv_env.update(OLLAMA_HOST=ollama_standin.url, MCV_BACKEND="ollama")
    mcv_env.pop("DISPLAY", None)
    mcv_env.pop("WAYLAND_DISPLAY", None)
    _, paths = hostile_folder(tmp_path)
    result = run_mcv(["describe", "--notify", "--", os.fsdecode(paths[0])], environ=mcv_env)
    assert result.exit_code == 0 and ANSWER in result.stderr  # no bus, no display: the text on stderr
