"""The history of chats and asks, in SQLite (store.py; schema steps in migrations.py).

Used by `mcv ask` (each answer logged after it is printed), `mcv chat`
(saved after every turn; `--continue` resumes) and `mcv history`.
"""

from mcv.core.history.store import History, HistoryError, Record, Summary, data_dir, history_path

__all__ = ["History", "HistoryError", "Record", "Summary", "data_dir", "history_path"]
