"""The history database: versioned schema, images stored once by sha256, resuming without the files."""

from __future__ import annotations

import os
import sqlite3

import pytest

from mcv.core.history import History, HistoryError, history_path
from mcv.core.history.migrations import MIGRATIONS
from mcv.core.images.types import ImageSource
from mcv.core.session import Session
from mcv.core.settings import Settings


@pytest.fixture
def session(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A receipt.")
    environ = {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}
    with Session(Settings.load(environ)) as session:
        yield session


def test_the_path_is_in_the_data_folder(mcv_env):
    assert history_path(mcv_env) == __import__("pathlib").Path(mcv_env["MCV_DATA_DIR"]) / "history.db"


def test_a_new_database_is_at_the_last_schema_version(tmp_path):
    with History(tmp_path / "h.db"):
        pass
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"conversations", "messages", "images", "message_images"} <= tables


def test_a_database_from_a_newer_mcv_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "h.db") as db:
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(HistoryError, match="made by a newer mcv"):
        History(tmp_path / "h.db")


def test_resume_after_the_image_file_is_deleted(session, tmp_path, photo_jpeg):
    copy = tmp_path / "photo.jpg"
    copy.write_bytes(photo_jpeg.read_bytes())
    chat = session.conversation(system="Be brief.")
    chat.send("what is it?", [ImageSource("path", str(copy), "photo.jpg")]).result()
    chat.send("and again?").result()
    with History(tmp_path / "h.db") as history:
        number = history.save(chat, kind="chat", model="minicpm-v", backend="ollama", draft="half")
    copy.unlink()
    with History(tmp_path / "h.db", readonly=True) as history:
        record = history.read(number)
    resumed = session.conversation()
    resumed.restore(record.transcript, history_id=number)
    assert (resumed.system, resumed.messages, resumed.pending) == (chat.system, chat.messages, chat.pending)
    assert record.draft == "half" and record.summary.title == "what is it?"
    assert resumed.messages_with("next")[:-1] == chat.messages_with("next")[:-1]


def test_images_are_stored_once_and_forgotten_with_their_last_conversation(session, tmp_path, photo_jpeg):
    first, second = session.conversation(), session.conversation()
    first.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    second.send("two", [ImageSource("path", str(photo_jpeg), "again.jpg")]).result()
    with History(tmp_path / "h.db") as history:
        a = history.save(first, kind="chat", model="m", backend="ollama")
        b = history.save(second, kind="ask", model="m", backend="ollama")
        a_again = history.save(first, kind="chat", model="m", backend="ollama")  # saved again: same entry
        count = lambda: history._db.execute("SELECT COUNT(*) FROM images").fetchone()[0]  # noqa: E731
        assert a_again == a and count() == 1
        assert [s.id for s in history.summaries()] == [a, b] or [s.id for s in history.summaries()] == [b, a]
        assert history.latest("chat") == a and history.latest("ask") == b
        history.delete(a)
        assert count() == 1
        history.delete(b)
        assert count() == 0
        with pytest.raises(HistoryError, match="no conversation 99"):
            history.read(99)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_one_clear_error(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(HistoryError, match="cannot open the history database"):
            History(folder / "h.db")
    finally:
        folder.chmod(0o700)


def test_a_history_that_cannot_be_created_is_one_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(HistoryError, match="cannot open the history database"):
        History(blocker / "h.db")
