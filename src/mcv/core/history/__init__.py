"""The history of chats and asks, in SQLite (store.py; schema steps in migrations.py).

Used by `mcv ask` and every other one-question surface (turn_log.py: a
turn's question and answer, written once it is shown), `mcv chat` (saved
after every line; `--continue` resumes) and `mcv history`. The names below
load on use: wrapping a turn in `log_turn` does not import sqlite3 before
the question is sent.
"""

_LAZY = {
    "History": "mcv.core.history.store",
    "HistoryError": "mcv.core.history.store",
    "Record": "mcv.core.history.store",
    "Summary": "mcv.core.history.store",
    "data_dir": "mcv.core.history.store",
    "history_path": "mcv.core.history.store",
    "TurnTap": "mcv.core.history.turn_log",
    "log_turn": "mcv.core.history.turn_log",
    "write_turn": "mcv.core.history.turn_log",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
