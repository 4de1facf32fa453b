"""A batch's results: one record per image (or PDF page), as JSONL or CSV.

JSONL (default), one object per line:
    {"path": "photos/a.jpg", "sha256": "...", "answer": "...", "data": ..., "error": null,
     "metrics": {...}, "model": "minicpm-v"}
`page` is there for a PDF page; `data` when the task asks for JSON (the parsed
answer); `skipped: true` for a file found in a folder that is not an image.
A failed item has `error` (one line) and, when there was one, the raw answer.

Result files are only ever appended to, each record with a single write
(O_APPEND), so a batch killed at any moment leaves every line whole; a short
write (a full disk) is cut back off. `--resume` reads the file back: the
(sha256, page) of every answered record is skipped in the new run, so a
renamed or moved photo is not asked about twice, and a photo whose content
changed is asked again.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mcv.errors import UsageError

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = (
    "path", "page", "sha256", "answer", "data", "error", "skipped", "model",
    "prompt_eval_count", "eval_count", "total_duration_ns",
)  # fmt: skip


@dataclass
class Record:
    path: str
    sha256: str | None = None
    page: int | None = None
    answer: str | None = None
    data: Any = None
    structured: bool = False  # the task asked for JSON: `data` is reported (null when it failed)
    error: str | None = None
    skipped: bool = False
    metrics: dict[str, Any] | None = None
    model: str | None = None

    @property
    def answered(self) -> bool:
        return self.error is None and not self.skipped

    @property
    def key(self) -> tuple[str | None, int | None]:
        return self.sha256, self.page

    def as_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"path": self.path}
        if self.page is not None:
            document["page"] = self.page
        document["sha256"] = self.sha256
        document["answer"] = self.answer
        if self.structured:
            document["data"] = self.data
        document["error"] = self.error
        if self.skipped:
            document["skipped"] = True
        document["metrics"] = self.metrics
        document["model"] = self.model
        return document


def record_line(record: Record, fmt: str = "jsonl") -> str:
    """One record as a line of its format (CSV may quote newlines inside a field)."""
    if fmt == "jsonl":
        return json.dumps(record.as_dict(), ensure_ascii=False) + "\n"
    metrics = record.metrics or {}
    row = [
        record.path,
        "" if record.page is None else record.page,
        record.sha256 or "",
        record.answer or "",
        "" if not record.structured or record.data is None else json.dumps(record.data, ensure_ascii=False),
        record.error or "",
        "true" if record.skipped else "",
        record.model or "",
        *("" if metrics.get(name) is None else metrics[name] for name in CSV_COLUMNS[-3:]),
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue()


def csv_header() -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(CSV_COLUMNS)
    return buffer.getvalue()


class ResultFile:
    """An output file records are appended to (`--output FILE`)."""

    def __init__(self, path: Path, fmt: str, *, resume: bool) -> None:
        if fmt not in FORMATS:
            raise UsageError(f"unknown result format {fmt!r}")
        self.path = Path(path)
        self.fmt = fmt
        self.done: set[tuple[str, int | None]] = set()
        self.earlier = 0  # records already in the file
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise UsageError(
                f"{self.path} already holds results",
                hint="add --resume to continue it (images answered there are skipped), or name another file",
            )
        if exists:
            self._read_back()
        try:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise UsageError(f"cannot write {self.path}: {err.strerror}") from None
        if fmt == "csv" and os.fstat(self._fd).st_size == 0:
            self._append(csv_header())

    def write(self, record: Record) -> None:
        self._append(record_line(record, self.fmt))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, text: str) -> None:
        """One write of the whole line: a kill leaves it all or nothing; a short write is cut back off."""
        data = text.encode("utf-8")
        size = os.fstat(self._fd).st_size
        try:
            written = os.write(self._fd, data)
        except OSError as err:
            raise UsageError(f"cannot write {self.path}: {err.strerror}") from None
        if written != len(data):
            os.ftruncate(self._fd, size)
            raise UsageError(f"cannot write {self.path}: the disk is full (the last record was not kept)")

    # --- --resume ---------------------------------------------------------------------------

    def _read_back(self) -> None:
        raw = self.path.read_bytes()
        text = raw.decode("utf-8", errors="replace")
        rows = self._jsonl_rows(text) if self.fmt == "jsonl" else self._csv_rows(text)
        for sha, page, answered in rows:
            self.earlier += 1
            if answered and sha:
                self.done.add((sha, page))

    def _jsonl_rows(self, text: str):
        whole, _, torn = text.rpartition("\n")
        if torn:  # a line cut off by a power loss: drop it, it is asked again
            os.truncate(self.path, len(whole.encode("utf-8")) + (1 if whole else 0))
        for number, line in enumerate(whole.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or "sha256" not in record:
                raise UsageError(
                    f"{self.path}:{number}: not a batch record", hint="--resume needs the JSONL file a batch wrote"
                )
            page = record.get("page")
            answered = not record.get("error") and not record.get("skipped")
            yield record.get("sha256"), page if isinstance(page, int) else None, answered

    def _csv_rows(self, text: str):
        rows = list(csv.reader(io.StringIO(text, newline="")))
        if rows and tuple(rows[0]) != CSV_COLUMNS:
            raise UsageError(f"{self.path}: not a batch's CSV (its header differs)")
        if text and not text.endswith("\r\n") and rows:  # a row cut off: keep the whole ones
            rows = rows[:-1]
            from mcv.core.atomic import write_atomically

            write_atomically(self.path, "".join(_csv_text(row) for row in rows))
        index = {name: i for i, name in enumerate(CSV_COLUMNS)}
        for row in rows[1:]:
            if len(row) != len(CSV_COLUMNS):
                continue
            page = row[index["page"]]
            answered = not row[index["error"]] and not row[index["skipped"]]
            yield row[index["sha256"]], int(page) if page.isdigit() else None, answered


def _csv_text(row: list[str]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue()
