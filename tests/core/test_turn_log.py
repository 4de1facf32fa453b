"""One question and its answer into the history, for every surface (core/history/turn_log.py)."""

from __future__ import annotations

import pytest

from mcv.core.events import Done, Failed, TextChunk
from mcv.core.history import History, log_turn
from mcv.core.images.types import ImageSource
from mcv.core.session import Session
from mcv.core.settings import Settings


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="one two three four five six")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


def source(path) -> ImageSource:
    return ImageSource("path", str(path), path.name)


def entries(environ) -> list:
    with History.open(environ) as history:
        return [history.read(summary.id) for summary in history.summaries()]


def test_written_once_the_consumer_is_past_done(environ, photo_jpeg):
    errors = []
    with Session(Settings.load(environ)) as session:
        events = iter(log_turn(session, session.ask([source(photo_jpeg)], "what is it?"), "what is it?", on_error=errors.append))
        for event in events:
            if isinstance(event, Done):
                assert entries(environ) == []  # the answer is shown first; the history waits
                break
        assert next(events, None) is None
    (record,) = entries(environ)
    question, answer = record.transcript.messages
    assert (question.content, answer.content, answer.interrupted) == ("what is it?", "one two three four five six", False)
    assert len(question.images) == 1 and record.summary.kind == "ask" and record.summary.backend == "ollama"
    assert errors == []


def test_stopped_mid_answer_keeps_the_part_that_came_marked(environ, photo_jpeg):
    with Session(Settings.load(environ)) as session:
        turn = log_turn(session, session.ask([source(photo_jpeg)], None), None, on_error=pytest.fail)
        seen = []
        for event in turn:
            if isinstance(event, TextChunk):
                seen.append(event.text)
                if len(seen) == 2:
                    turn.close()  # what Ctrl-C in a view does
                    break
    (record,) = entries(environ)
    question, answer = record.transcript.messages
    assert question.content == "Describe this image." and answer.interrupted and answer.content == "".join(seen)


def test_a_turn_that_failed_before_any_answer_is_not_kept(environ, photo_jpeg, ollama_standin):
    ollama_standin.find("minicpm-v").error_after = 0
    with Session(Settings.load(environ)) as session:
        events = list(log_turn(session, session.ask([source(photo_jpeg)], "hi"), "hi", on_error=pytest.fail))
    assert isinstance(events[-1], Failed)
    with History.open(environ) as history:
        assert history.summaries() == []


def test_logging_off_is_the_turn_itself(environ, photo_jpeg):
    with Session(Settings.load({**environ, "MCV_HISTORY_LOG": "false"})) as session:
        turn = session.ask([source(photo_jpeg)], "hi")
        assert log_turn(session, turn, "hi", on_error=pytest.fail) is turn
        turn.result()


def test_a_history_that_cannot_be_written_goes_to_on_error(environ, photo_jpeg, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    errors = []
    with Session(Settings.load({**environ, "MCV_DATA_DIR": str(blocker / "data")})) as session:
        events = list(log_turn(session, session.ask([source(photo_jpeg)], "hi"), "hi", on_error=errors.append))
    assert isinstance(events[-1], Done)
    (error,) = errors
    assert error.message.startswith("cannot open the history database")
