"""The history database's schema, as numbered steps (SQLite's `user_version` says which ran).

A step is never edited once released: a change is a new step appended here,
run once on every database older than it. A database from a newer mcv (a
higher version than the last step) is refused rather than guessed at. The
steps an open runs are one transaction (store.py): a failure leaves the
database as it was.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: conversations, their messages, images stored once by sha256.
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,                 -- 'chat' or 'ask'
        title TEXT NOT NULL,
        model TEXT,
        backend TEXT,
        system TEXT,
        draft TEXT,                         -- typed but not sent when the chat ended
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX conversations_by_kind ON conversations (kind, updated_at);
    CREATE TABLE messages (
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        role TEXT NOT NULL,
        content TEXT NOT NULL,
        interrupted INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conversation_id, position)
    );
    CREATE TABLE images (
        sha256 TEXT PRIMARY KEY,
        mime TEXT NOT NULL,
        width INTEGER NOT NULL,
        height INTEGER NOT NULL,
        data BLOB NOT NULL
    );
    CREATE TABLE message_images (
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        message_position INTEGER,          -- NULL: waiting for the next question
        position INTEGER NOT NULL,
        sha256 TEXT NOT NULL REFERENCES images (sha256),
        label TEXT NOT NULL,
        source_width INTEGER NOT NULL,
        source_height INTEGER NOT NULL,
        notes TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX message_images_by_conversation ON message_images (conversation_id);
    CREATE INDEX message_images_by_sha256 ON message_images (sha256);
    """,
    # 2: what a chat was asking with, so that `mcv chat --continue` goes on the same way.
    """
    ALTER TABLE conversations ADD COLUMN options TEXT;   -- JSON object: request options (/set, -o)
    ALTER TABLE conversations ADD COLUMN think INTEGER;  -- /think: 1 on, 0 off, NULL as the model decides
    """,
)
