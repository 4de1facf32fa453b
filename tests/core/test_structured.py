"""Answers checked against a schema or a length limit, retried once, in the core (core/structured.py).

The strict Ollama stand-in is told what to answer: valid JSON, invalid JSON
(wrong types, missing fields), or garbage; the request it sees second is
the retry, carrying the validation error.
"""

from __future__ import annotations

import pytest

from mcv.core.events import Done, Failed, Retrying, Routed, TextChunk
from mcv.core.images.types import ImageSource
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.core.structured import Task, add_metrics
from mcv.core.backends.base import Metrics
from mcv.errors import SchemaMismatch

SCHEMA = {"type": "object", "properties": {"total": {"type": "number"}}, "required": ["total"]}


@pytest.fixture
def environ(mcv_env, ollama_standin):
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


def answers(ollama_standin, *texts: str):
    """The stand-in answers `texts` in turn (the last one from then on)."""
    queue = list(texts)
    ollama_standin.add_model("minicpm-v", answer=lambda request: queue.pop(0) if len(queue) > 1 else queue[0])


def ask(environ, photo, *, schema=SCHEMA, max_chars=None):
    with Session(Settings.load(environ)) as session:
        session.parameters = session.parameters.merged(format=schema)
        events = list(Task("read the total", max_chars).ask(session, [ImageSource("path", str(photo), "photo.jpg")]))
    return events


def test_a_valid_answer_is_parsed_once(environ, ollama_standin, photo_jpeg):
    answers(ollama_standin, '{"total": 42.5}')
    events = ask(environ, photo_jpeg)
    done = events[-1]
    assert isinstance(done, Done) and done.data == {"total": 42.5} and done.answer == '{"total": 42.5}'
    assert not any(isinstance(e, Retrying) for e in events)
    (chat,) = ollama_standin.requests_to("/api/chat")
    assert chat.json["format"] == SCHEMA


def test_an_invalid_answer_is_asked_again_with_the_error(environ, ollama_standin, photo_jpeg):
    answers(ollama_standin, '{"total": "42.50 EUR"}', '{"total": 42.5}')
    events = ask(environ, photo_jpeg)
    kinds = [type(e).__name__ for e in events]
    assert kinds.count("Routed") == 1 and kinds.count("Retrying") == 1 and kinds[-1] == "Done"
    retrying = next(e for e in events if isinstance(e, Retrying))
    assert retrying.problem == "at total: '42.50 EUR' is not of type 'number'"
    assert retrying.answer == '{"total": "42.50 EUR"}'
    assert events[-1].data == {"total": 42.5}
    first, second = ollama_standin.requests_to("/api/chat")
    # The retry is the same conversation: the image, the rejected answer, then what was wrong.
    messages = second.json["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0] == first.json["messages"][0]  # the same image bytes: the prompt cache holds
    assert messages[1]["content"] == '{"total": "42.50 EUR"}'
    assert "'42.50 EUR' is not of type 'number'" in messages[2]["content"]
    assert second.json["format"] == SCHEMA
    # Both requests count (the stand-in counts 64 tokens for each image sent, and one per answer chunk).
    assert events[-1].metrics.prompt_eval_count > 2 * 64
    assert events[-1].metrics.eval_count == len('{"total": "42.50 EUR"}'.split()) + len('{"total": 42.5}'.split())


@pytest.mark.parametrize(
    "bad, problem",
    [
        ('{"sum": 42.5}', "'total' is a required property"),  # invalid twice
        ("The total is 42.50.", "the answer is not JSON"),  # garbage
    ],
)
def test_invalid_twice_fails_with_the_raw_text(environ, ollama_standin, photo_jpeg, bad, problem):
    answers(ollama_standin, bad)
    events = ask(environ, photo_jpeg)
    failed = events[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, SchemaMismatch)
    assert failed.error.exit_code == 1
    assert failed.error.message.startswith("the answer did not match the schema, even when asked again: " + problem)
    assert failed.error.answer == failed.partial == bad
    assert len(ollama_standin.requests_to("/api/chat")) == 2  # asked again once, not more
    assert "".join(e.text for e in events if isinstance(e, TextChunk)) == bad + bad  # streamed, both attempts


def test_a_length_limit_is_checked_and_retried(environ, ollama_standin, photo_jpeg):
    answers(ollama_standin, "x" * 130, "A dog on a beach.")
    events = ask(environ, photo_jpeg, schema=None, max_chars=125)
    assert events[-1].answer == "A dog on a beach." and events[-1].data is None
    retry = ollama_standin.requests_to("/api/chat")[-1].json["messages"][-1]["content"]
    assert "130 characters long; at most 125 are allowed" in retry
    assert "format" not in ollama_standin.requests_to("/api/chat")[-1].json


def test_without_schema_or_limit_it_is_the_plain_session_turn(environ, ollama_standin, photo_jpeg):
    answers(ollama_standin, "not json at all")
    events = ask(environ, photo_jpeg, schema=None)
    assert isinstance(events[0], Routed) and events[-1].answer == "not json at all" and events[-1].data is None
    assert len(ollama_standin.requests_to("/api/chat")) == 1


def test_metrics_of_two_requests_add_up():
    a = Metrics(prompt_eval_count=10, eval_count=3, total_duration_ns=None)
    b = Metrics(prompt_eval_count=12, eval_count=None, total_duration_ns=5)
    total = add_metrics(a, b)
    assert (total.prompt_eval_count, total.eval_count, total.total_duration_ns) == (22, 3, 5)
    assert add_metrics(None, b) is b
