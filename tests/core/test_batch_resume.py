"""`--resume`: a file that is not a batch's output is never touched; answers are reused for the
same content under another name (records and sidecars); another task is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcv.core.batch import BatchJob, ItemDone, run_batch
from mcv.core.batch.records import Record, ResultFile, record_line
from mcv.core.presets import BUILT_IN
from mcv.core.settings import Settings
from mcv.errors import UsageError
from support.images import jpeg_bytes, make_photo


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A photo.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


def run(environ, job: BatchJob) -> list:
    job.retry_delays = (0.01,)
    return list(run_batch(Settings.load(environ), job))


def records_of(events) -> dict[str, Record]:
    return {Path(e.record.path).name: e.record for e in events if isinstance(e, ItemDone)}


def photo(path: Path, seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(jpeg_bytes(make_photo(320, 240, seed=seed)))
    return path


# --- nothing is changed before the whole file was checked -------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"no newline at all",  # one "torn" line that is not ours
        b'{"path": "a.jpg", "sha256": null}\nnot json at the end',
        b"some notes\n" + b'{"path": "a.jpg", "sha2',  # a torn record of ours after a line that is not
        "caf\xe9 au lait\n".encode("latin-1"),  # not even UTF-8
        b"\n\n",
    ],
)
def test_a_file_that_is_not_batch_output_is_refused_untouched(environ, ollama_standin, tmp_path, content):
    out = tmp_path / "f.jsonl"
    out.write_bytes(content)
    photo(tmp_path / "x.jpg", 1)
    with pytest.raises(UsageError) as info:
        run(environ, BatchJob([str(tmp_path / "x.jpg")], preset=BUILT_IN["alt"], output=out, resume=True))
    assert "--resume continues a file a batch wrote" in (info.value.hint or "")
    assert out.read_bytes() == content
    assert ollama_standin.requests_to("/api/chat") == []


def test_a_torn_record_of_ours_is_cut_only_once_everything_else_passed(tmp_path):
    out = tmp_path / "out.jsonl"
    whole = record_line(Record("a.jpg", "a" * 64, answer="A.", task="t1"))
    out.write_text(whole + '{"path": "b.jpg", "sha256": "bb')
    results = ResultFile(out, "jsonl", resume=True)
    assert results.earlier.torn and results.earlier.records == 1
    with pytest.raises(UsageError, match="holds answers to a --prompt with another prompt"):
        results.earlier.check_task("t2", None, None, out)
    assert out.read_text().endswith('"sha256": "bb')  # refused: still as it was
    results.earlier.check_task("t1", None, None, out)
    results.open()
    results.write(Record("b.jpg", "b" * 64, answer="B.", task="t1"))
    results.close()
    assert [json.loads(line)["path"] for line in out.read_text().splitlines()] == ["a.jpg", "b.jpg"]


def test_a_torn_csv_row_is_cut_and_an_edited_csv_refused(tmp_path):
    out = tmp_path / "out.csv"
    results = ResultFile(out, "csv", resume=False)
    results.open()
    for n in range(2):
        results.write(Record(f"{n}.jpg", f"{n}" * 64, answer="=SUM(A1:A9) says the receipt", task="t"))
    results.close()
    whole = out.read_bytes()
    assert b"'=SUM(A1:A9)" in whole  # a spreadsheet shows it as text, not a formula
    out.write_bytes(whole + b"3.jpg,,333")
    again = ResultFile(out, "csv", resume=True)
    assert again.earlier.torn and again.earlier.records == 2
    assert again.earlier.answers[("0" * 64, None)]["answer"] == "=SUM(A1:A9) says the receipt"  # the ' taken off
    again.open()
    again.close()
    assert out.read_bytes() == whole
    edited = whole.replace(b"\r\n", b"\n", 1) + b"3.jpg,,333"
    out.write_bytes(edited)
    with pytest.raises(UsageError, match="not as a batch wrote them"):
        ResultFile(out, "csv", resume=True)
    assert out.read_bytes() == edited


# --- the same content under another name -------------------------------------------------------


def test_a_copy_gets_its_own_record_and_sidecars_from_the_earlier_answer(environ, ollama_standin, tmp_path):
    folder = tmp_path / "photos"
    first = photo(folder / "a.jpg", 1)
    out = tmp_path / "out.jsonl"
    job = dict(preset=BUILT_IN["alt"], output=out, sidecar="txt", xmp=True)
    run(environ, BatchJob([str(folder)], **job))
    asked = len(ollama_standin.requests_to("/api/chat"))
    (folder / "copy.jpg").write_bytes(first.read_bytes())  # the same bytes, another name
    first.rename(folder / "moved.jpg")  # a renamed photo (its old sidecars stay where they were)
    events = run(environ, BatchJob([str(folder)], resume=True, **job))
    assert len(ollama_standin.requests_to("/api/chat")) == asked  # nothing asked twice
    records = records_of(events)
    assert sorted(records) == ["copy.jpg", "moved.jpg"]
    for name in ("copy.jpg", "moved.jpg"):
        assert records[name].answered and records[name].copied_from == str(folder / "a.jpg")
        assert (folder / f"{name}.txt").read_text() == "A photo.\n"
        assert (folder / f"{Path(name).stem}.xmp").exists()
    assert events[-1].tally.resumed == 2 and events[-1].tally.answered == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    # the first run's record, then the resumed two in the order their preparation finished
    assert Path(lines[0]["path"]).name == "a.jpg"
    assert sorted(Path(line["path"]).name for line in lines[1:]) == ["copy.jpg", "moved.jpg"]
    assert all(line["copied_from"] == str(folder / "a.jpg") and line["answer"] == "A photo." for line in lines[1:])
    events = run(environ, BatchJob([str(folder)], resume=True, **job))  # a third run: all are known now
    assert records_of(events) == {} and events[-1].tally.resumed == 2


def test_an_image_answered_before_gets_the_sidecar_it_lacks(environ, ollama_standin, tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "a.jpg", 1)
    out = tmp_path / "out.jsonl"
    run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], output=out))
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], output=out, resume=True, xmp=True))
    assert records_of(events) == {} and events[-1].tally.resumed == 1
    assert "A photo." in (folder / "a.xmp").read_text()
    assert len(ollama_standin.requests_to("/api/chat")) == 1


# --- another task ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "second, message",
    [
        (dict(preset=BUILT_IN["tags"]), "answers to --preset caption, not --preset tags"),
        (dict(preset=BUILT_IN["caption"], options={"temperature": 0.9}), "with another prompt, system prompt"),
        (dict(prompt="what is it"), "answers to --preset caption, not a --prompt"),
    ],
)
def test_resuming_another_task_is_refused(environ, ollama_standin, tmp_path, second, message):
    folder = tmp_path / "photos"
    photo(folder / "a.jpg", 1)
    out = tmp_path / "out.jsonl"
    run(environ, BatchJob([str(folder)], preset=BUILT_IN["caption"], output=out))
    before = out.read_bytes()
    with pytest.raises(UsageError) as info:
        run(environ, BatchJob([str(folder)], output=out, resume=True, xmp=True, **second))
    assert message in info.value.message and "--resume continues the same task" in info.value.message
    assert out.read_bytes() == before and not (folder / "a.xmp").exists()
    assert len(ollama_standin.requests_to("/api/chat")) == 1


def test_another_model_is_another_task(environ, ollama_standin, tmp_path):
    ollama_standin.add_model("other-vision", answer="Other.")
    folder = tmp_path / "photos"
    photo(folder / "a.jpg", 1)
    out = tmp_path / "out.jsonl"
    run(environ, BatchJob([str(folder)], preset=BUILT_IN["caption"], output=out))
    with pytest.raises(UsageError, match="answers from the model minicpm-v, not other-vision"):
        run({**environ, "MCV_MODEL": "other-vision"},
            BatchJob([str(folder)], preset=BUILT_IN["caption"], output=out, resume=True))  # fmt: skip


def test_an_output_file_inside_the_folder_is_left_out_and_resumes(environ, ollama_standin, tmp_path):
    folder = tmp_path / "photos"
    photo(folder / "a.jpg", 1)
    out = folder / "results.log"  # not a name the walk passes over by itself
    first = run(environ, BatchJob([str(folder)], preset=BUILT_IN["caption"], output=out))
    assert list(records_of(first)) == ["a.jpg"]
    photo(folder / "b.jpg", 2)
    again = run(environ, BatchJob([str(folder)], preset=BUILT_IN["caption"], output=out, resume=True))
    assert list(records_of(again)) == ["b.jpg"] and again[-1].tally.resumed == 1
