"""A batch's results: one record per image (or PDF page), as JSONL or CSV.

JSONL (default), one object per line, in the order the answers arrive
(lanes answer side by side: not the order of the files):
    {"path": "photos/a.jpg", "sha256": "...", "answer": "...", "data": ..., "error": null,
     "metrics": {...}, "model": "minicpm-v", "preset": "alt", "task": "3f9c..."}
`page` is there for a PDF page; `data` when the task asks for JSON (the parsed
answer); `skipped: true` for a file found in a folder that is not an image.
A failed item has `error` (one line) and, when there was one, the raw answer.
`task` identifies what was asked (preset, prompt, system, options, schema,
pixel budget, model; engine.py): `--resume` continues only the same task.
`copied_from` names the earlier record whose answer a file with the same
content got (`--resume`: it is not asked twice). `path_escaped: true` says
`path` escapes a file name that is not UTF-8 (inputs.py: undecodable bytes
as `\\xNN`, backslashes doubled). Every value is valid Unicode text (a lone
surrogate in an answer becomes U+FFFD).

CSV has the same fields as columns (CSV_COLUMNS; metrics as three of them).
A cell a spreadsheet would take for a formula (starting with = + - @ ' or a
tab or carriage return; answers come from text in the images, which anyone
may write) starts with an added `'`, as OWASP advises; strip one leading `'`
to get the value back.

Result files are only ever appended to, each record with a single write
(O_APPEND), so a batch killed at any moment leaves every line whole; a short
write (a full disk) is cut back off. `--resume` reads the file back first
(resume.py), and changes nothing in it before all of it was found to be a
batch's output of the same task.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcv.errors import UsageError

FORMATS = ("jsonl", "csv")
METRIC_COLUMNS = ("prompt_eval_count", "eval_count", "total_duration_ns")
CSV_COLUMNS = (
    "path", "page", "sha256", "answer", "data", "error", "skipped", "model", *METRIC_COLUMNS,
    "path_escaped", "copied_from", "preset", "task",
)  # fmt: skip
_SURROGATE = re.compile("[\ud800-\udfff]")
_FORMULA_START = tuple("=+-@'\t\r")


@dataclass
class Record:
    path: str  # the file as records show it (inputs.py: valid text)
    sha256: str | None = None
    page: int | None = None
    answer: str | None = None
    data: Any = None
    structured: bool = False  # the task asked for JSON: `data` is reported (null when it failed)
    error: str | None = None
    skipped: bool = False
    metrics: dict[str, Any] | None = None
    model: str | None = None
    preset: str | None = None
    task: str | None = None  # what was asked, as a digest (module docstring)
    path_escaped: bool = False
    copied_from: str | None = None  # the earlier record this answer is copied from (same content)
    file: str | None = field(default=None, repr=False, compare=False)  # the file itself (sidecars); not written

    @property
    def answered(self) -> bool:
        return self.error is None and not self.skipped

    @property
    def key(self) -> tuple[str | None, int | None]:
        return self.sha256, self.page

    def as_dict(self) -> dict[str, Any]:
        """The record as JSONL and .json sidecars hold it: valid Unicode throughout."""
        document: dict[str, Any] = {"path": self.path}
        if self.path_escaped:
            document["path_escaped"] = True
        if self.page is not None:
            document["page"] = self.page
        document["sha256"] = self.sha256
        document["answer"] = self.answer
        if self.structured:
            document["data"] = self.data
        document["error"] = self.error
        if self.skipped:
            document["skipped"] = True
        if self.copied_from is not None:
            document["copied_from"] = self.copied_from
        document["metrics"] = self.metrics
        document["model"] = self.model
        document["preset"] = self.preset
        document["task"] = self.task
        return _valid(document)


def record_line(record: Record, fmt: str = "jsonl") -> str:
    """One record as a line of its format (CSV may quote newlines inside a field)."""
    if fmt == "jsonl":
        return json.dumps(record.as_dict(), ensure_ascii=False) + "\n"
    metrics = record.metrics or {}
    data = "" if not record.structured or record.data is None else json.dumps(_valid(record.data), ensure_ascii=False)
    row = [
        record.path,
        "" if record.page is None else record.page,
        record.sha256 or "",
        record.answer or "",
        data,
        record.error or "",
        "true" if record.skipped else "",
        record.model or "",
        *("" if metrics.get(name) is None else metrics[name] for name in METRIC_COLUMNS),
        "true" if record.path_escaped else "",
        record.copied_from or "",
        record.preset or "",
        record.task or "",
    ]
    return csv_text([_cell(value) for value in row])


def csv_header() -> str:
    return csv_text(list(CSV_COLUMNS))


def csv_text(row: list[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow(row)
    return buffer.getvalue()


def csv_value(cell: str) -> str:
    """A CSV cell's value: the `'` added before a formula-like start taken off (module docstring)."""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(_FORMULA_START) else cell


def _cell(value: Any) -> Any:
    if isinstance(value, str):
        value = _valid(value)
        if value.startswith(_FORMULA_START):
            return "'" + value
    return value


def _valid(value: Any) -> Any:
    """`value` with every lone surrogate (not text: e.g. a model's "\\ud800") replaced by U+FFFD."""
    if isinstance(value, str):
        return value if value.isascii() or not _SURROGATE.search(value) else _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_valid(k): _valid(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid(v) for v in value]
    return value


class ResultFile:
    """An output file records are appended to (`--output FILE`).

    Made in two steps so that nothing is written before the whole batch was
    checked: the constructor reads an existing file back (`--resume`,
    resume.py; refused if it is no batch output), `open()` cuts a torn last
    line off and starts appending.
    """

    def __init__(self, path: Path, fmt: str, *, resume: bool) -> None:
        from mcv.core.batch.resume import Earlier, read_back

        if fmt not in FORMATS:
            raise UsageError(f"unknown result format {fmt!r}")
        self.path = Path(path)
        self.fmt = fmt
        self._fd = -1
        if self.path.is_dir():
            raise UsageError(f"--output {self.path} is a folder", hint="name a file, e.g. results.jsonl")
        exists = self.path.exists() and self.path.stat().st_size > 0
        if exists and not resume:
            raise UsageError(
                f"{self.path} already holds results",
                hint="add --resume to continue it (images answered there are skipped), or name another file",
            )
        self.earlier: Earlier = read_back(self.path, fmt) if exists else Earlier()

    def open(self) -> None:
        """Start appending (after every check passed): a torn last line is cut off first."""
        earlier = self.earlier
        try:
            if earlier.torn:
                os.truncate(self.path, earlier.whole_bytes)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as err:
            raise UsageError(f"cannot write {self.path}: {err.strerror}") from None
        if earlier.unterminated:  # a whole last record without its line end (an edited file)
            self._append("\r\n" if self.fmt == "csv" else "\n")
        if self.fmt == "csv" and os.fstat(self._fd).st_size == 0:
            self._append(csv_header())

    def write(self, record: Record) -> None:
        """Append `record`; UsageError if the file cannot take it (nothing of it is left behind)."""
        self._append(record_line(record, self.fmt))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def _append(self, text: str) -> None:
        """One write of the whole line: a kill leaves it all or nothing; a short write is cut back off."""
        data = text.encode("utf-8")
        try:
            size = os.fstat(self._fd).st_size
            written = os.write(self._fd, data)
        except OSError as err:
            raise UsageError(f"cannot write {self.path}: {err.strerror}") from None
        if written != len(data):
            os.ftruncate(self._fd, size)
            raise UsageError(f"cannot write {self.path}: the disk is full (the last record was not kept)")
