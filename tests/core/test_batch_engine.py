"""The batch engine (core/batch) against the strict Ollama stand-in: concurrency from the
backend's slots, retries of 503s and dropped connections, several daemons, a daemon that
goes away, a worker that crashes, PDFs page by page, resume, sidecars."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mcv.core.batch import BatchJob, Finished, ItemDone, Note, Started, run_batch
from mcv.core.presets import BUILT_IN
from mcv.core.settings import Settings
from support.images import jpeg_bytes, make_photo, pdf_bytes
from support.ollama_standin import OllamaStandin

FAST_RETRIES = (0.01, 0.01, 0.01, 0.01)


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for n in range(6):
        where = folder / "sub" if n % 3 == 2 else folder
        (where / f"p{n}.jpg").write_bytes(jpeg_bytes(make_photo(900, 600, seed=n)))
    return folder


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A photo.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


def run(environ, job: BatchJob) -> list:
    job.retry_delays = job.retry_delays or FAST_RETRIES
    return list(run_batch(Settings.load(environ), job))


def done_records(events) -> list:
    return [e.record for e in events if isinstance(e, ItemDone)]


def test_lanes_come_from_the_daemons_slots(environ, ollama_standin, photos):
    ollama_standin.num_parallel = 2
    ollama_standin.find("minicpm-v").latency = 0.1
    environ["OLLAMA_NUM_PARALLEL"] = "2"
    events = run(environ, BatchJob([str(photos)], prompt="what is it"))
    started = events[0]
    assert isinstance(started, Started) and started.lanes == [(f"Ollama at {ollama_standin.url}", 3)]
    assert ollama_standin.scheduler.peak_running == 2  # both slots used, never more
    records = done_records(events)
    assert len(records) == 6 and all(r.answered and r.answer == "A photo." for r in records)
    assert isinstance(events[-1], Finished) and events[-1].tally.answered == 6
    assert len(ollama_standin.requests_to("/api/chat")) == 6
    one = run(environ, BatchJob([str(photos / "p0.jpg")], prompt="what", jobs=1))
    assert one[0].lanes == [(f"Ollama at {ollama_standin.url}", 1)]


def test_503s_and_dropped_connections_are_retried(environ, ollama_standin, photos):
    ollama_standin.inject_chat_failure("busy", count=2)
    ollama_standin.inject_chat_failure("drop", count=1, after=1)
    events = run(environ, BatchJob([str(photos)], prompt="what is it", jobs=1))
    assert all(r.answered for r in done_records(events)) and len(done_records(events)) == 6
    notes = [e.text for e in events if isinstance(e, Note)]
    assert sum("Ollama error 503: server busy, please try again." in n for n in notes) == 2
    assert sum("lost the connection to Ollama" in n for n in notes) == 1
    assert all("asking again in" in n for n in notes)
    assert len(ollama_standin.requests_to("/api/chat")) == 6 + 3


def test_a_request_that_keeps_failing_is_that_images_error(environ, ollama_standin, photos):
    ollama_standin.inject_chat_failure("busy", count=5)  # the first image: 1 try + 4 retries
    events = run(environ, BatchJob([str(photos)], prompt="what is it", jobs=1))
    records = done_records(events)
    failed = [r for r in records if not r.answered]
    assert len(failed) == 1 and failed[0].error.startswith("Ollama error 503")
    assert events[-1].tally.failed == 1 and events[-1].tally.answered == 5


def test_work_spreads_over_several_daemons(environ, ollama_standin, photos):
    other = OllamaStandin()
    try:
        other.add_model("minicpm-v", answer="From the other one.", latency=0.05)
        ollama_standin.find("minicpm-v").latency = 0.05
        events = run(environ, BatchJob([str(photos)], prompt="what", hosts=[ollama_standin.url, other.url]))
        # one engine over both (the Ollama backend spreads the requests): a slot and one queued at each
        assert events[0].lanes == [(f"2 Ollama daemons ({ollama_standin.url}, {other.url})", 4)]
        answers = {r.answer for r in done_records(events)}
        assert answers == {"A photo.", "From the other one."}
        assert len(ollama_standin.requests_to("/api/chat")) + len(other.requests_to("/api/chat")) == 6
        other.stop()  # a daemon that is down at the start is left out (for a while): the other answers all
        events = run(environ, BatchJob([str(photos)], prompt="what", hosts=[other.url, ollama_standin.url]))
        assert events[-1].tally.answered == 6 and {r.answer for r in done_records(events)} == {"A photo."}
    finally:
        other.close()


def test_a_daemon_that_goes_away_stops_the_batch_with_what_was_answered_kept(environ, ollama_standin, photos, tmp_path):
    answered = []

    def answer(request):
        answered.append(1)
        if len(answered) == 2:
            ollama_standin.stop()  # dies while answering the second image
        return "A photo."

    ollama_standin.find("minicpm-v").answer = answer
    out = tmp_path / "out.jsonl"
    events = run(environ, BatchJob([str(photos)], prompt="what", jobs=1, output=out))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.stopped is not None
    assert finished.stopped.message.startswith("Ollama is not running at")
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(lines) <= 2 and all(line["error"] is None for line in lines)  # only real answers were written


def test_a_crashing_worker_costs_only_its_own_file(environ, photos):
    from support.crashing import prepare_or_crash

    (photos / "crash.jpg").write_bytes((photos / "p0.jpg").read_bytes())
    events = run(environ, BatchJob([str(photos)], prompt="what", prepare=prepare_or_crash, workers=2))
    records = {Path(r.path).name: r for r in done_records(events)}
    assert records["crash.jpg"].error == f"{photos / 'crash.jpg'}: the image decoder crashed on it"
    assert sorted(name for name, r in records.items() if r.answered) == [f"p{n}.jpg" for n in range(6)]


def test_pdfs_are_taken_page_by_page_and_resumed_by_page(environ, ollama_standin, tmp_path):
    pdf = tmp_path / "scan.pdf"
    pdf.write_bytes(pdf_bytes([make_photo(300, 400, seed=k) for k in range(3)]))
    out = tmp_path / "out.jsonl"
    events = run(environ, BatchJob([str(pdf)], preset=BUILT_IN["ocr"], output=out))
    assert sorted(r.page for r in done_records(events)) == [1, 2, 3]
    assert events[-1].tally.total == 3
    lines = out.read_text().splitlines()
    dropped = [line for line in lines if json.loads(line)["page"] != 2]
    out.write_text("\n".join(dropped) + "\n")  # as if page 2 had not been answered yet
    before = len(ollama_standin.requests_to("/api/chat"))
    events = run(environ, BatchJob([str(pdf)], preset=BUILT_IN["ocr"], output=out, resume=True))
    assert [r.page for r in done_records(events)] == [2]
    assert events[-1].tally.resumed == 2 and len(ollama_standin.requests_to("/api/chat")) == before + 1


def test_resume_skips_answered_images_by_content_not_name(environ, ollama_standin, photos, tmp_path):
    out = tmp_path / "out.jsonl"
    run(environ, BatchJob([str(photos)], prompt="what", output=out))
    (photos / "p0.jpg").rename(photos / "renamed.jpg")  # same content: already answered
    (photos / "p1.jpg").write_bytes(jpeg_bytes(make_photo(900, 600, seed=99)))  # new content: asked
    before = len(ollama_standin.requests_to("/api/chat"))
    events = run(environ, BatchJob([str(photos)], prompt="what", output=out, resume=True))
    records = {Path(r.path).name: r for r in done_records(events)}
    assert sorted(records) == ["p1.jpg", "renamed.jpg"]
    # the renamed photo is not asked again, but gets a record of its own, copied from the earlier answer
    assert records["renamed.jpg"].copied_from == str(photos / "p0.jpg") and records["renamed.jpg"].answer == "A photo."
    assert records["renamed.jpg"].metrics is None and records["p1.jpg"].copied_from is None
    assert events[-1].tally.resumed == 5 and events[-1].tally.answered == 1
    assert len(ollama_standin.requests_to("/api/chat")) == before + 1
    assert events[0].earlier == 6


def test_sidecars_and_a_clash_of_stem_names(environ, ollama_standin, photos):
    ollama_standin.find("minicpm-v").answer = '["sea", "sky"]'
    (photos / "p0.png").write_bytes((photos / "p0.jpg").read_bytes())  # p0.jpg and p0.png: both p0.xmp
    events = run(environ, BatchJob([str(photos)], preset=BUILT_IN["tags"], sidecar="json", xmp=True))
    records = {Path(r.path).name: r for r in done_records(events)}
    clash = records["p0.png"]
    assert not clash.answered and "its XMP sidecar is also" in clash.error and "--xmp-name full" in clash.error
    saved = json.loads((photos / "p1.jpg.json").read_text())
    assert saved["data"] == ["sea", "sky"] and saved["sha256"] == records["p1.jpg"].sha256
    assert (photos / "sub" / "p2.xmp").exists()
    events = run(environ, BatchJob([str(photos)], preset=BUILT_IN["tags"], sidecar="txt", xmp=True, xmp_naming="full"))
    assert all(r.answered for r in done_records(events))
    assert (photos / "p0.png.xmp").exists() and (photos / "p0.jpg.xmp").exists()
    assert (photos / "p3.jpg.txt").read_text() == '["sea", "sky"]\n'


def test_refusals_before_anything_starts(environ, photos, tmp_path):
    from mcv.errors import UsageError

    with pytest.raises(UsageError, match="--resume needs --output FILE"):
        run(environ, BatchJob([str(photos)], prompt="x", resume=True))
    with pytest.raises(UsageError, match="preset 'ocr' has no XMP field"):
        run(environ, BatchJob([str(photos)], preset=BUILT_IN["ocr"], xmp=True))
    with pytest.raises(UsageError, match="is one of the inputs"):
        run(environ, BatchJob([str(photos / "p0.jpg")], prompt="x", output=photos / "p0.jpg", resume=True))


@pytest.mark.slow
def test_the_in_process_fallback_answers_one_at_a_time(mcv_env, tiny_pair_25, photos, ollama_standin):
    llm, mmproj = tiny_pair_25
    environ = {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_LLAMA_MODEL": str(llm), "MCV_LLAMA_MMPROJ": str(mmproj)}
    ollama_standin.stop()
    job = BatchJob([str(photos)], preset=BUILT_IN["caption"], options={"num_predict": 4}, jobs=3)
    events = run(environ, job)
    assert events[0].lanes == [("in process (llama.cpp)", 1)]
    assert any(isinstance(e, Note) and "one image at a time" in e.text for e in events)
    records = done_records(events)
    assert len(records) == 6 and all(r.answered for r in records)
    assert all(r.metrics["prompt_eval_count"] > 96 for r in records)


def test_closing_the_batch_stops_at_once_and_writes_only_whole_answers(environ, ollama_standin, photos, tmp_path):
    """Ctrl-C in a surface closes the event stream: no new request goes out, the call
    returns at once, nothing half-done is written. (That the daemon then stops
    generating is checked with a real process: tests/cli/test_batch.py, killed batch.)"""
    import time

    model = ollama_standin.find("minicpm-v")
    model.latency = 0.5  # meanwhile every photo is prepared and queued for the lanes

    def answer(request):
        model.latency = 30.0  # every later answer would take long
        return "A photo."

    model.answer = answer
    out = tmp_path / "out.jsonl"
    events = run_batch(Settings.load(environ), BatchJob([str(photos)], prompt="what", jobs=2, output=out))
    for event in events:
        if isinstance(event, ItemDone):
            break
    assert ollama_standin.wait_for(lambda: len(ollama_standin.requests_to("/api/chat")) == 4)  # 2 done, 2 waiting
    started = time.monotonic()
    events.close()
    assert time.monotonic() - started < 2.5
    time.sleep(0.3)
    assert len(ollama_standin.requests_to("/api/chat")) == 4  # nothing new was sent
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert 1 <= len(lines) <= 2 and all(line["error"] is None for line in lines)
