"""The history database: chats and asks in SQLite, images stored once by sha256.

    with History.open(environ) as history:
        history.save(conversation, kind="chat", model="minicpm-v", backend="ollama")
        for summary in history.summaries(): ...
        record = history.read(12)            # Summary + Transcript (+ the unsent draft)

The file lives in the platform's data folder (`MCV_DATA_DIR` overrides it).
Images are kept as their prepared bytes, so a conversation resumes after the
original files are moved or deleted (llm's #1135). Saving rewrites one
conversation's rows in one transaction: a chat is saved after every turn,
which costs a few milliseconds, and is never half written. Transactions are
explicit (`BEGIN IMMEDIATE` ... `COMMIT`, the connection in autocommit mode):
Python's implicit ones would commit each CREATE TABLE of a migration on its own.
Any failure to write (a locked or read-only file, a full disk, text SQLite
refuses) is a HistoryError: one line for the user, never a traceback.
"""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from mcv.core.backends.base import Message
from mcv.core.history.migrations import MIGRATIONS
from mcv.core.images.types import PreparedImage
from mcv.core.transcript import Transcript, image_from
from mcv.errors import InputError

if TYPE_CHECKING:
    from mcv.core.conversation import Conversation

FILE_NAME = "history.db"
TITLE_LENGTH = 60


class HistoryError(InputError):
    """The history database cannot be opened, read or written, or has no such entry."""


def data_dir(environ: Mapping[str, str]) -> Path:
    override = environ.get("MCV_DATA_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("mcv", appauthor=False))


def history_path(environ: Mapping[str, str]) -> Path:
    return data_dir(environ) / FILE_NAME


@dataclass(frozen=True)
class Summary:
    id: int
    kind: str  # "chat" or "ask"
    title: str
    model: str | None
    backend: str | None
    created_at: str
    updated_at: str
    messages: int
    images: int


@dataclass(frozen=True)
class Record:
    summary: Summary
    transcript: Transcript
    draft: str | None
    options: dict[str, Any] = field(default_factory=dict)  # request options the chat had set (/set, -o)
    think: bool | None = None  # /think as the chat left it; None: never set


# Seconds a write waits for another mcv's transaction before giving up.
LOCK_TIMEOUT = 5.0


class History:
    def __init__(self, path: Path, *, readonly: bool = False, timeout: float = LOCK_TIMEOUT) -> None:
        self.path = Path(path)
        try:
            if readonly:
                self._db = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=timeout, isolation_level=None)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        except (sqlite3.Error, OSError) as err:
            raise HistoryError(f"cannot open the history database {self.path}: {_reason(err)}") from None
        try:
            self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate(readonly)
        except (sqlite3.Error, OSError) as err:
            self._db.close()
            raise HistoryError(f"cannot open the history database {self.path}: {_reason(err)}") from None
        except BaseException:
            self._db.close()
            raise

    @classmethod
    def open(cls, environ: Mapping[str, str], *, readonly: bool = False) -> "History":
        return cls(history_path(environ), readonly=readonly)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One write transaction: all of it, or (on any exception, Ctrl-C included) none of it.
        IMMEDIATE takes the write lock at once, so two writers queue instead of deadlocking."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _version(self) -> int:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise HistoryError(
                f"the history database {self.path} was made by a newer mcv (schema {version}, this one knows {len(MIGRATIONS)})"
            )
        return version

    def _migrate(self, readonly: bool) -> None:
        if self._version() == len(MIGRATIONS) or readonly:
            return  # read-only: the reading queries cope with an older schema
        with self._transaction():
            version = self._version()  # again, under the lock: another mcv may have just migrated
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")
        self._db.execute("PRAGMA journal_mode = WAL")  # a chat and an ask may write at the same time

    # --- writing -------------------------------------------------------------------------

    def save(
        self,
        conversation: "Conversation",
        *,
        kind: str,
        model: str | None,
        backend: str | None,
        draft: str | None = None,
        options: Mapping[str, Any] | None = None,
        think: bool | None = None,
    ) -> int:
        """Store `conversation` (a new entry, or its own again); returns its id and keeps it on the conversation.

        `options` and `think` are what the chat asks with (restored by `mcv chat --continue`).
        """
        now = _now()
        title = _title(conversation.messages, conversation.pending)
        thinking = None if think is None else int(think)
        try:
            settings = json.dumps(dict(options or {}), ensure_ascii=False, default=list)
            with self._transaction():
                known = conversation.history_id is not None and self._db.execute(
                    "SELECT 1 FROM conversations WHERE id = ?", (conversation.history_id,)
                ).fetchone()
                if known:
                    number = conversation.history_id
                    self._db.execute(
                        "UPDATE conversations SET title = ?, model = ?, backend = ?, system = ?, draft = ?, updated_at = ?,"
                        " options = ?, think = ? WHERE id = ?",
                        (title, model, backend, conversation.system, draft, now, settings, thinking, number),
                    )
                    used_before = {row[0] for row in self._db.execute(
                        "SELECT sha256 FROM message_images WHERE conversation_id = ?", (number,)
                    )}
                    self._db.execute("DELETE FROM messages WHERE conversation_id = ?", (number,))
                    self._db.execute("DELETE FROM message_images WHERE conversation_id = ?", (number,))
                else:
                    number = self._db.execute(
                        "INSERT INTO conversations (kind, title, model, backend, system, draft, created_at, updated_at,"
                        " options, think) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (kind, title, model, backend, conversation.system, draft, now, now, settings, thinking),
                    ).lastrowid
                    used_before = set()
                for position, message in enumerate(conversation.messages):
                    self._db.execute(
                        "INSERT INTO messages (conversation_id, position, role, content, interrupted) VALUES (?, ?, ?, ?, ?)",
                        (number, position, message.role, message.content, int(message.interrupted)),
                    )
                    self._add_images(number, position, message.images)
                self._add_images(number, None, conversation.pending)
                self._forget_unused(used_before)
        except HistoryError:
            raise
        except Exception as err:  # noqa: BLE001 - sqlite3, text it refuses, a full disk: the history never costs a traceback
            raise HistoryError(f"cannot write the history database {self.path}: {_reason(err)}") from None
        conversation.history_id = number
        return number

    def _add_images(self, number: int, message_position: int | None, images) -> None:
        for position, image in enumerate(images):
            sha = image.sha256
            if self._db.execute("SELECT 1 FROM images WHERE sha256 = ?", (sha,)).fetchone() is None:
                self._db.execute(
                    "INSERT INTO images (sha256, mime, width, height, data) VALUES (?, ?, ?, ?, ?)",
                    (sha, image.mime, image.width, image.height, image.data),
                )
            self._db.execute(
                "INSERT INTO message_images (conversation_id, message_position, position, sha256, label,"
                " source_width, source_height, notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (number, message_position, position, sha, image.label, image.source_width, image.source_height,
                 json.dumps(list(image.notes), ensure_ascii=False)),
            )

    def _forget_unused(self, shas: set[str]) -> None:
        for sha in shas:
            self._db.execute(
                "DELETE FROM images WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM message_images WHERE sha256 = ?)",
                (sha, sha),
            )

    def delete(self, number: int) -> Summary:
        summary = self.summary(number)
        try:
            with self._transaction():
                self._delete(number)
        except sqlite3.Error as err:
            raise HistoryError(f"cannot write the history database {self.path}: {_reason(err)}") from None
        return summary

    def _delete(self, number: int) -> None:
        shas = {row[0] for row in self._db.execute("SELECT sha256 FROM message_images WHERE conversation_id = ?", (number,))}
        self._db.execute("DELETE FROM conversations WHERE id = ?", (number,))
        self._forget_unused(shas)

    def prune(self, *, before: datetime, kind: str | None = None) -> tuple[int, int]:
        """Delete the conversations last updated before `before` (only `kind`'s, if given),
        with the images nobody else uses, and give the space back. Returns
        (conversations deleted, bytes the file shrank by)."""
        cutoff = before.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")
        where, arguments = "updated_at < ?", [cutoff]
        if kind:
            where, arguments = where + " AND kind = ?", [*arguments, kind]
        size = self._size()
        try:
            with self._transaction():
                numbers = [row[0] for row in self._db.execute(f"SELECT id FROM conversations WHERE {where}", arguments)]
                for number in numbers:
                    self._delete(number)
            if numbers:
                self._db.execute("VACUUM")
        except sqlite3.Error as err:
            raise HistoryError(f"cannot write the history database {self.path}: {_reason(err)}") from None
        return len(numbers), max(0, size - self._size())

    def _size(self) -> int:
        try:
            return sum(os.path.getsize(f"{self.path}{tail}") for tail in ("", "-wal") if os.path.exists(f"{self.path}{tail}"))
        except OSError:
            return 0

    # --- reading -------------------------------------------------------------------------

    _SUMMARY = (
        "SELECT c.id, c.kind, c.title, c.model, c.backend, c.created_at, c.updated_at,"
        " (SELECT COUNT(*) FROM messages m WHERE m.conversation_id = c.id),"
        " (SELECT COUNT(*) FROM message_images i WHERE i.conversation_id = c.id)"
        " FROM conversations c"
    )

    def summaries(self, *, limit: int | None = None, kind: str | None = None) -> list[Summary]:
        """Newest first."""
        where = " WHERE c.kind = ?" if kind else ""
        query = self._SUMMARY + where + " ORDER BY c.updated_at DESC, c.id DESC" + (f" LIMIT {int(limit)}" if limit else "")
        return [Summary(*row) for row in self._query(query, (kind,) if kind else ())]

    def summary(self, number: int) -> Summary:
        rows = self._query(self._SUMMARY + " WHERE c.id = ?", (number,))
        if not rows:
            raise HistoryError(f"no conversation {number} in the history", hint="`mcv history ls` lists them")
        return Summary(*rows[0])

    def latest(self, kind: str = "chat") -> int | None:
        found = self.summaries(limit=1, kind=kind)
        return found[0].id if found else None

    def read(self, number: int) -> Record:
        summary = self.summary(number)
        stored = self._row("SELECT * FROM conversations WHERE id = ?", (number,))  # `*`: an older schema lacks columns
        system, draft = stored.get("system"), stored.get("draft")
        images: dict[int | None, list[PreparedImage]] = {}
        for row in self._query(
            "SELECT mi.message_position, mi.sha256, mi.label, mi.source_width, mi.source_height, mi.notes,"
            " i.mime, i.width, i.height, i.data FROM message_images mi JOIN images i ON i.sha256 = mi.sha256"
            " WHERE mi.conversation_id = ? ORDER BY mi.message_position, mi.position",
            (number,),
        ):
            where, sha, label, source_width, source_height, notes, mime, width, height, data = row
            reference = {
                "sha256": sha, "label": label, "mime": mime, "width": width, "height": height,
                "source_width": source_width, "source_height": source_height, "notes": json.loads(notes or "[]"),
            }
            images.setdefault(where, []).append(image_from(reference, bytes(data)))
        messages = [
            Message(role, content, tuple(images.get(position, ())), interrupted=bool(interrupted))
            for position, role, content, interrupted in self._query(
                "SELECT position, role, content, interrupted FROM messages WHERE conversation_id = ? ORDER BY position",
                (number,),
            )
        ]
        transcript = Transcript(system, messages, images.get(None, []), summary.model)
        think = stored.get("think")
        return Record(summary, transcript, draft, _options(stored.get("options")), None if think is None else bool(think))

    def _query(self, query: str, arguments: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(query, arguments).fetchall()
        except sqlite3.Error as err:
            raise HistoryError(f"cannot read the history database {self.path}: {_reason(err)}") from None

    def _row(self, query: str, arguments: tuple) -> dict[str, Any]:
        try:
            cursor = self._db.execute(query, arguments)
            values = cursor.fetchone()
        except sqlite3.Error as err:
            raise HistoryError(f"cannot read the history database {self.path}: {_reason(err)}") from None
        return dict(zip((column[0] for column in cursor.description), values or ()))


def _options(text: str | None) -> dict[str, Any]:
    try:
        options = json.loads(text) if text else {}
    except ValueError:
        return {}
    return options if isinstance(options, dict) else {}


def _statements(script: str) -> list[str]:
    """A migration's statements, one by one (executescript would commit on its own)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        current += line.split("--", 1)[0].rstrip() + "\n" if "--" in line else line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]


def _title(messages, pending) -> str:
    for message in messages:
        if message.role == "user" and message.content.strip():
            line = " ".join(message.content.split())
            return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1] + "…"
    labels = [image.label for message in messages for image in message.images] + [image.label for image in pending]
    return ", ".join(labels)[:TITLE_LENGTH] or "(empty)"


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _reason(err: BaseException) -> str:
    if isinstance(err, UnicodeError):
        return "text it cannot store (not valid Unicode)"
    text = getattr(err, "strerror", None) or str(err) or type(err).__name__
    if isinstance(err, sqlite3.OperationalError) and "readonly" in text:
        return "the folder or file is read-only"
    return text if os.sep not in text else text.splitlines()[0]
