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


def clock(monkeypatch, *stamps: str) -> None:
    """The history's clock reads `stamps`, one a write (the real one has a resolution of a second)."""
    times = iter(stamps)
    monkeypatch.setattr("mcv.core.history.store._now", lambda: next(times))


def test_images_are_stored_once_and_forgotten_with_their_last_conversation(session, tmp_path, photo_jpeg, monkeypatch):
    first, second = session.conversation(), session.conversation()
    first.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    second.send("two", [ImageSource("path", str(photo_jpeg), "again.jpg")]).result()
    clock(monkeypatch, "2026-01-01T10:00:00Z", "2026-01-01T10:00:01Z", "2026-01-01T10:00:02Z")
    with History(tmp_path / "h.db") as history:
        a = history.save(first, kind="chat", model="m", backend="ollama")
        b = history.save(second, kind="ask", model="m", backend="ollama")
        assert [s.id for s in history.summaries()] == [b, a]  # newest first
        a_again = history.save(first, kind="chat", model="m", backend="ollama")  # saved again: same entry
        count = lambda: history._db.execute("SELECT COUNT(*) FROM images").fetchone()[0]  # noqa: E731
        assert a_again == a and count() == 1
        assert [s.id for s in history.summaries()] == [a, b]  # updated last: first again
        assert [s.id for s in history.summaries(kind="ask")] == [b]
        assert history.summary(a).created_at == "2026-01-01T10:00:00Z"
        assert history.summary(a).updated_at == "2026-01-01T10:00:02Z"
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


# --- migrations ---------------------------------------------------------------------------


def tables(path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def user_version(path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


def test_a_migration_that_fails_leaves_the_database_as_it_was(tmp_path, monkeypatch):
    broken = (MIGRATIONS[0], "CREATE TABLE notes (text TEXT);\nINSERT INTO nowhere VALUES (1);")
    monkeypatch.setattr("mcv.core.history.store.MIGRATIONS", broken)
    with pytest.raises(HistoryError, match="cannot open the history database .*no such table: nowhere"):
        History(tmp_path / "h.db")
    assert user_version(tmp_path / "h.db") == 0
    assert tables(tmp_path / "h.db") == set()  # step 1's CREATE TABLEs rolled back too
    monkeypatch.setattr("mcv.core.history.store.MIGRATIONS", MIGRATIONS)
    with History(tmp_path / "h.db"):  # the next mcv migrates from scratch
        pass
    assert user_version(tmp_path / "h.db") == len(MIGRATIONS)


def test_a_failing_later_step_keeps_the_earlier_version(tmp_path, monkeypatch):
    monkeypatch.setattr("mcv.core.history.store.MIGRATIONS", MIGRATIONS[:1])
    with History(tmp_path / "h.db"):
        pass
    monkeypatch.setattr("mcv.core.history.store.MIGRATIONS", (*MIGRATIONS, "CREATE TABLE x (a);\nCREATE TABLE x (a);"))
    with pytest.raises(HistoryError, match="already exists"):
        History(tmp_path / "h.db")
    assert user_version(tmp_path / "h.db") == 1
    assert "x" not in tables(tmp_path / "h.db")
    with sqlite3.connect(tmp_path / "h.db") as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(conversations)")}
    assert "options" not in columns  # step 2 ran in the same transaction as the failing one


def test_two_mcvs_opening_a_new_database_at_once_migrate_it_once(tmp_path, monkeypatch):
    import threading

    real = History._version
    both_looked = threading.Barrier(2, timeout=10)
    looked = threading.local()

    def version_seen_by_both(self):
        version = real(self)
        if not getattr(looked, "once", False):  # the check before the lock: both see a new file
            looked.once = True
            both_looked.wait()
        return version

    monkeypatch.setattr(History, "_version", version_seen_by_both)
    errors = []

    def open_it():
        try:
            History(tmp_path / "h.db").close()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=open_it) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []  # the second waited for the first's migration, then found nothing to do
    assert user_version(tmp_path / "h.db") == len(MIGRATIONS)
    with sqlite3.connect(tmp_path / "h.db") as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(conversations)")]
    assert columns.count("options") == 1 and {"conversations", "messages", "images"} <= tables(tmp_path / "h.db")


def test_a_version_1_database_is_read_then_migrated(session, tmp_path, photo_jpeg):
    chat = session.conversation()
    chat.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    with History(tmp_path / "h.db") as history:
        number = history.save(chat, kind="chat", model="m", backend="ollama")
    with sqlite3.connect(tmp_path / "h.db") as db:  # as mcv 0.x wrote it: schema 1
        db.execute("ALTER TABLE conversations DROP COLUMN options")
        db.execute("ALTER TABLE conversations DROP COLUMN think")
        db.execute("PRAGMA user_version = 1")
    with History(tmp_path / "h.db", readonly=True) as history:  # `mcv history show` on an old file
        record = history.read(number)
    assert record.transcript.messages == chat.messages and record.options == {} and record.think is None
    assert user_version(tmp_path / "h.db") == 1
    with History(tmp_path / "h.db") as history:
        history.save(chat, kind="chat", model="m", backend="ollama", options={"num_ctx": 8192}, think=True)
        record = history.read(number)
    assert user_version(tmp_path / "h.db") == len(MIGRATIONS)
    assert record.options == {"num_ctx": 8192} and record.think is True


# --- writes that fail -----------------------------------------------------------------------


def test_a_locked_database_is_one_error_and_the_next_write_works(session, tmp_path, photo_jpeg):
    chat = session.conversation()
    chat.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    with History(tmp_path / "h.db", timeout=0.1) as history:
        other = sqlite3.connect(tmp_path / "h.db", isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")  # another mcv in the middle of a write
        try:
            with pytest.raises(HistoryError, match="cannot write the history database .*locked"):
                history.save(chat, kind="chat", model="m", backend="ollama")
            assert chat.history_id is None
        finally:
            other.execute("ROLLBACK")
            other.close()
        number = history.save(chat, kind="chat", model="m", backend="ollama")
        assert history.read(number).transcript.messages == chat.messages


def test_text_sqlite_refuses_is_a_history_error_and_nothing_is_half_written(session, tmp_path, photo_jpeg):
    chat = session.conversation()
    chat.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    with History(tmp_path / "h.db") as history:
        number = history.save(chat, kind="chat", model="m", backend="ollama")
        chat.send("two").result()
        chat.system = "bad \udcff bytes"  # what an undecodable command-line argument becomes
        with pytest.raises(HistoryError, match="not valid Unicode"):
            history.save(chat, kind="chat", model="m", backend="ollama")
        assert len(history.read(number).transcript.messages) == 2  # the old entry, whole


def test_ctrl_c_in_the_middle_of_a_save_leaves_the_entry_as_it_was(session, tmp_path, photo_jpeg):
    chat = session.conversation()
    chat.send("one", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    with History(tmp_path / "h.db") as history:
        number = history.save(chat, kind="chat", model="m", backend="ollama")
        chat.send("two").result()

        class CtrlCAtTheThirdMessage:
            """The connection, with Ctrl-C arriving once two of the messages are rewritten."""

            def __init__(self, db):
                self.db, self.messages = db, 0

            def execute(self, sql, *args):
                if sql.startswith("INSERT INTO messages"):
                    self.messages += 1
                    if self.messages == 3:
                        raise KeyboardInterrupt
                return self.db.execute(sql, *args)

            def __getattr__(self, name):
                return getattr(self.db, name)

        real, history._db = history._db, CtrlCAtTheThirdMessage(history._db)
        with pytest.raises(KeyboardInterrupt):
            history.save(chat, kind="chat", model="m", backend="ollama")
        history._db = real
        assert not real.in_transaction
        record = history.read(number)
        assert [m.content for m in record.transcript.messages] == ["one", "A receipt."]  # the old turn, whole
        assert len(record.transcript.messages[0].images) == 1
        history.save(chat, kind="chat", model="m", backend="ollama")  # the next save writes it all
        assert [m.content for m in history.read(number).transcript.messages] == ["one", "A receipt.", "two", "A receipt."]


def test_prune_deletes_old_conversations_and_their_images(session, tmp_path, photo_jpeg, receipt_png, monkeypatch):
    from datetime import datetime, timezone

    old, new = session.conversation(), session.conversation()
    old.send("old", [ImageSource("path", str(photo_jpeg), "photo.jpg")]).result()
    new.send("new", [ImageSource("path", str(receipt_png), "receipt.png")]).result()
    clock(monkeypatch, "2026-01-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-01-02T00:00:00Z")
    with History(tmp_path / "h.db") as history:
        a = history.save(old, kind="ask", model="m", backend="ollama")
        b = history.save(new, kind="ask", model="m", backend="ollama")
        c = history.save(session.conversation(), kind="chat", model="m", backend="ollama", draft="x")
        count = lambda: history._db.execute("SELECT COUNT(*) FROM images").fetchone()[0]  # noqa: E731
        assert count() == 2
        deleted, _ = history.prune(before=datetime(2026, 2, 1, tzinfo=timezone.utc), kind="ask")
        assert deleted == 1 and [s.id for s in history.summaries()] == [b, c] and count() == 1
        deleted, _ = history.prune(before=datetime(2026, 2, 1, tzinfo=timezone.utc))
        assert deleted == 1 and [s.id for s in history.summaries()] == [b]
        assert history.prune(before=datetime(2026, 2, 1, tzinfo=timezone.utc)) == (0, 0)
    assert a not in (b, c)
