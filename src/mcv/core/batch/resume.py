"""`--resume`: reading a batch's result file back, and checking it before anything is written.

Every line (JSONL) or row (CSV) is checked first; a file that is not a
batch's output is refused whole and left exactly as it was. A batch writes
each record whole, ending in a line break, so the only damage its own file
can carry is a last line cut off by a power cut or a full disk: one that
starts the way records start is cut off when the batch starts writing
(records.ResultFile.open), after every check passed; anything else there is
refused too.

What the new run takes from it (`Earlier`):
- the (sha256, page) of every answered record: that content is not asked
  about again, whatever its file is called now;
- the first answered record of each such key, so that a file with the same
  content under another name (a copy, a moved or renamed photo) gets its
  own record and sidecars from that answer;
- the task each answer was given (records.py `task`): a run of another task
  (another preset, prompt, options, schema or model) on the same file is
  refused, so that no image keeps an answer to a question nobody asked.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcv.core.batch.records import CSV_COLUMNS, METRIC_COLUMNS, csv_header, csv_text, csv_value
from mcv.errors import UsageError

Key = tuple[str, "int | None"]
_RECORD_START = '{"path": '  # how every JSONL record of ours begins


@dataclass
class Earlier:
    """What a result file already holds."""

    records: int = 0
    answers: dict[Key, dict[str, Any]] = field(default_factory=dict)  # key -> its first answered record
    paths: dict[Key, set[tuple[str, bool]]] = field(default_factory=dict)  # key -> (path, escaped) answered
    tasks: dict[str | None, dict[str, Any]] = field(default_factory=dict)  # task digest -> an answered record
    whole_bytes: int = 0  # the file's length without a torn last line
    torn: bool = False  # a last line cut off: open() cuts it
    unterminated: bool = False  # a whole last record without its line end: open() ends the line

    @property
    def done(self) -> frozenset[Key]:
        return frozenset(self.answers)

    def add(self, record: dict[str, Any]) -> None:
        self.records += 1
        sha, page = record.get("sha256"), record.get("page")
        if record.get("error") or record.get("skipped") or not isinstance(sha, str) or not sha:
            return
        key = (sha, page if isinstance(page, int) else None)
        self.answers.setdefault(key, record)
        self.paths.setdefault(key, set()).add((str(record.get("path")), bool(record.get("path_escaped"))))
        self.tasks.setdefault(record.get("task"), record)

    def recorded_at(self, key: Key, label: str, escaped: bool, path: str) -> bool:
        """Whether the file at `path` (shown as `label`) has an answered record for `key`."""
        paths = self.paths.get(key, ())
        if (label, escaped) in paths:
            return True
        real = os.path.realpath(path)
        return any(_real(*earlier) == real for earlier in paths)  # spelt another way (another cwd, ./)

    def check_task(self, task: str, preset: str | None, model: str | None, where: Path) -> None:
        """UsageError if an answer in the file was given to another task."""
        other = next((record for digest, record in self.tasks.items() if digest != task), None)
        if other is None:
            return
        was, now = other.get("preset"), preset
        if other.get("task") is None:
            why = "answers that do not say which task they were given"
        elif was != now:
            why = f"answers to {_task_name(was)}, not {_task_name(now)}"
        elif other.get("model") and model and not _same_model(str(other["model"]), model):
            why = f"answers from the model {other['model']}, not {model}"
        else:
            why = f"answers to {_task_name(was)} with another prompt, system prompt, options, schema or pixel budget"
        raise UsageError(
            f"{where} holds {why}; --resume continues the same task",
            hint="name another --output file for this task (the file was left as it was)",
        )


def read_back(path: Path, fmt: str) -> Earlier:
    """The records of an existing result file, every one checked (UsageError otherwise); changes nothing."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a batch's {fmt.upper()} output (not UTF-8 text)", hint=_HINT) from None
    return _jsonl(path, text) if fmt == "jsonl" else _csv(path, text)


_HINT = "--resume continues a file a batch wrote; it was left as it was"


def _jsonl(path: Path, text: str) -> Earlier:
    earlier = Earlier()
    lines = text.split("\n")
    last = lines.pop()  # "" when the file ends with a line break, as every batch's file does
    for number, line in enumerate(lines, 1):
        if line.strip():
            earlier.add(_jsonl_record(path, number, line))
    earlier.whole_bytes = len(text.encode("utf-8")) - len(last.encode("utf-8"))
    if last.strip():
        try:
            earlier.add(_jsonl_record(path, len(lines) + 1, last))
            earlier.unterminated = True
        except UsageError:
            if not last.startswith(_RECORD_START):
                raise
            earlier.torn = True  # a record of ours, cut off: asked again
    elif last:
        earlier.torn = True  # trailing blanks after the last line break
    if earlier.records == 0 and not last.startswith(_RECORD_START):  # blank lines only
        raise UsageError(f"{path}: holds no batch records", hint=_HINT)
    return earlier


def _jsonl_record(path: Path, number: int, line: str) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except ValueError:
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("path"), str) or "sha256" not in record:
        raise UsageError(f"{path}:{number}: not a batch record", hint=_HINT)
    if record.get("path_escaped"):
        record["path_escaped"] = True
    return record


def _csv(path: Path, text: str) -> Earlier:
    earlier = Earlier()
    header = csv_header()
    if header.startswith(text):  # only the start of our header: cut off while it was written
        earlier.torn = True
        return earlier
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or tuple(rows[0]) != CSV_COLUMNS:
        raise UsageError(f"{path}: not a batch's CSV output (its header differs)", hint=_HINT)
    body = rows[1:]
    if not text.endswith("\n"):  # every row of ours ends with a line break: the last one was cut off
        kept = header + "".join(csv_text(row) for row in body[:-1])
        if not text.startswith(kept):
            raise UsageError(f"{path}: its last row is cut off, and the rows before it are not as a batch wrote them",
                             hint=_HINT)  # fmt: skip
        earlier.torn = True
        earlier.whole_bytes = len(kept.encode("utf-8"))
        body = body[:-1]
    else:
        earlier.whole_bytes = len(text.encode("utf-8"))
    for number, row in enumerate(body, 2):
        if len(row) != len(CSV_COLUMNS):
            raise UsageError(f"{path}: row {number} has {len(row)} columns, not {len(CSV_COLUMNS)}", hint=_HINT)
        earlier.add(_csv_record(dict(zip(CSV_COLUMNS, row))))
    return earlier


def _csv_record(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as the record (dict) a JSONL line holds."""
    value = {name: csv_value(cell) for name, cell in row.items()}
    data = None
    if value["data"]:
        try:
            data = json.loads(value["data"])
        except ValueError:
            data = None
    return {
        "path": value["path"],
        "path_escaped": value["path_escaped"] == "true",
        "page": int(value["page"]) if value["page"].isdigit() else None,
        "sha256": value["sha256"] or None,
        "answer": value["answer"] or None,
        "data": data,
        "error": value["error"] or None,
        "skipped": value["skipped"] == "true",
        "copied_from": value["copied_from"] or None,
        "metrics": {name: int(value[name]) for name in METRIC_COLUMNS if value[name].isdigit()} or None,
        "model": value["model"] or None,
        "preset": value["preset"] or None,
        "task": value["task"] or None,
    }


def _real(shown: str, escaped: bool) -> str:
    """The real path of a record's `path` (an escaped one unescaped: inputs.py)."""
    if escaped:
        try:
            return os.path.realpath(os.fsdecode(codecs.escape_decode(shown.encode("utf-8"))[0]))
        except ValueError:
            return ""
    return os.path.realpath(shown)


def _task_name(preset: str | None) -> str:
    return f"--preset {preset}" if preset else "a --prompt"


def _same_model(a: str, b: str) -> bool:
    from mcv.core.ollama.names import same_model

    return a == b or same_model(a, b)
