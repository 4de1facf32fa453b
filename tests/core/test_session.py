"""The core session every surface asks through: events, routing, refusals, conversations.

Against the strict Ollama stand-in and, for the in-process engine, a real
tiny GGUF pair run by llama.cpp.
"""

from __future__ import annotations

import threading

import pytest

from mcv.core import routing
from mcv.core.events import Done, Failed, ImageReady, Routed, TextChunk, ThinkingChunk
from mcv.core.images.types import ImageSource
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.errors import CapabilityError, ModelNotFound, ServerUnavailable, UsageError
from support.net import closed_port


def source(path) -> ImageSource:
    return ImageSource("path", str(path), path.name)


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A red square.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


@pytest.fixture
def local_environ(mcv_env, tiny_pair_25):
    """Nothing answers at the Ollama address; the configured pair is the configured model."""
    llm, mmproj = tiny_pair_25
    return {
        **mcv_env,
        "OLLAMA_HOST": f"127.0.0.1:{closed_port()}",
        "MCV_BACKEND": "auto",
        "MCV_LLAMA_MODEL": str(llm),
        "MCV_LLAMA_MMPROJ": str(mmproj),
    }


def events_of(turn) -> list:
    return list(turn)


def test_a_question_is_events_in_order_and_one_request(environ, ollama_standin, photo_jpeg):
    with Session(Settings.load(environ)) as session:
        events = events_of(session.ask([source(photo_jpeg)], "what is it?"))
    kinds = [type(event) for event in events]
    assert kinds[:2] == [Routed, ImageReady] and kinds[-1] is Done
    assert set(kinds[2:-1]) == {TextChunk}
    routed, ready, done = events[0], events[1], events[-1]
    assert (routed.route.backend, routed.route.model, routed.route.pair) == ("ollama", "minicpm-v", None)
    assert ready.image.label == "photo.jpg" and ready.image.width * ready.image.height <= 9 * 448 * 448
    assert done.answer == "".join(e.text for e in events if isinstance(e, TextChunk)) == "A red square."
    assert done.done_reason == "stop" and done.metrics.eval_count > 0
    (chat,) = ollama_standin.requests_to("/api/chat")
    assert chat.json["stream"] is True
    assert chat.json["messages"] == [
        {"role": "user", "content": "[img]\nwhat is it?", "images": [ready.image.b64()]}
    ]


def test_no_stream_is_sent_as_stream_false(environ, ollama_standin, photo_jpeg):
    with Session(Settings.load(environ)) as session:
        session.parameters = session.parameters.merged(stream=False)
        done = session.ask([source(photo_jpeg)]).result()
    assert done.answer == "A red square."
    assert ollama_standin.requests_to("/api/chat")[-1].json["stream"] is False


def test_images_are_prepared_while_the_engine_is_found(environ, photo_jpeg, monkeypatch):
    """Routing waits until preparation has begun: without the overlap it would wait in vain."""
    preparing = threading.Event()
    overlapped = []
    real_prepare, real_open_route = Session.prepare, routing.open_route

    def prepare(self, sources):
        preparing.set()
        return real_prepare(self, sources)

    def open_route(settings, model):
        overlapped.append(preparing.wait(timeout=10))
        return real_open_route(settings, model)

    monkeypatch.setattr(Session, "prepare", prepare)
    monkeypatch.setattr(routing, "open_route", open_route)
    with Session(Settings.load(environ)) as session:
        assert session.ask([source(photo_jpeg)]).result().answer == "A red square."
    assert overlapped == [True]


def failure(session, *args) -> Failed:
    events = events_of(session.ask(*args))
    assert isinstance(events[-1], Failed), events
    return events[-1]


def test_daemon_down_and_model_missing_are_told_apart(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("llava:13b")
    ollama_standin.add_model("textonly", capabilities=("completion",))
    with Session(Settings.load(environ, flags={"model": "qwen2.5vl"})) as session:
        missing = failure(session, [source(photo_jpeg)]).error
    assert isinstance(missing, ModelNotFound)
    assert missing.message == (
        f"model 'qwen2.5vl' is not in Ollama at {ollama_standin.url}; its vision models: minicpm-v:latest, llava:13b"
    )
    assert "mcv model pull qwen2.5vl" in missing.hint and "mcv model create" in missing.hint

    ollama_standin.stop()
    with Session(Settings.load(environ)) as session:
        down = failure(session, [source(photo_jpeg)]).error
    assert isinstance(down, ServerUnavailable)
    assert "not running" in down.message and ollama_standin.url in down.message
    assert "ollama serve" in down.hint
    assert down.message != missing.message


@pytest.mark.slow
def test_auto_answers_in_process_only_for_the_model_the_pair_is(local_environ, photo_jpeg, tiny_pair_25):
    with Session(Settings.load(local_environ)) as session:
        session.parameters = session.parameters.merged(options={"num_predict": 4, "seed": 1})
        events = events_of(session.ask([source(photo_jpeg)], "describe"))
    route = events[0].route
    assert isinstance(events[-1], Done), events[-1]
    assert route.backend == "llama" and route.model == "minicpm-v"
    assert (route.pair.llm, route.pair.source, route.pair.generation) == (tiny_pair_25[0], "config", "MiniCPM-Llama3-V 2.5")
    assert "not running" in route.fallback_from

    with Session(Settings.load(local_environ, flags={"model": "llava:13b"})) as session:
        error = failure(session, [source(photo_jpeg)]).error
    assert isinstance(error, ServerUnavailable)
    assert "not running" in error.message and "no local GGUF pair for 'llava:13b'" in error.message
    assert "ollama serve" in error.hint and "mcv model fetch" in error.hint


@pytest.mark.slow
def test_a_path_is_a_model_for_the_in_process_engine_only(local_environ, photo_jpeg, tiny_pair_25):
    llm = str(tiny_pair_25[0])
    with Session(Settings.load(local_environ, flags={"model": llm, "backend": "llama"})) as session:
        session.parameters = session.parameters.merged(options={"num_predict": 2})
        route = session.route()
        assert (route.pair.source, route.pair.llm) == ("path", tiny_pair_25[0])
    with Session(Settings.load(local_environ, flags={"model": llm, "backend": "ollama"})) as session:
        error = failure(session, [source(photo_jpeg)]).error
    assert isinstance(error, UsageError) and "is a file" in error.message


@pytest.mark.slow
def test_an_option_the_engine_cannot_honour_is_refused(local_environ, photo_jpeg):
    with Session(Settings.load(local_environ)) as session:
        session.parameters = session.parameters.merged(options={"num_batch": 512})
        error = failure(session, [source(photo_jpeg)]).error
    assert isinstance(error, UsageError)
    assert error.message == "option 'num_batch' is not supported by the llama backend: in process (llama.cpp)"
    assert "num_ctx" in error.hint


def test_thinking_is_off_unless_asked_for(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("minicpm-v4.5", thinking=True, answer="Forty-two.")
    with Session(Settings.load(environ, flags={"model": "minicpm-v4.5"})) as session:
        events = events_of(session.ask([source(photo_jpeg)]))
        assert ollama_standin.requests_to("/api/chat")[-1].json["think"] is False
        assert not any(isinstance(e, ThinkingChunk) for e in events)
        session.parameters = session.parameters.merged(think=True)
        events = events_of(session.ask([source(photo_jpeg)]))
    assert ollama_standin.requests_to("/api/chat")[-1].json["think"] is True
    assert any(isinstance(e, ThinkingChunk) for e in events)
    assert events[-1].thinking and events[-1].answer == "Forty-two."


def test_a_blind_or_unthinking_model_is_refused_before_anything_is_sent(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("textonly", capabilities=("completion",))
    with Session(Settings.load(environ, flags={"model": "textonly"})) as session:
        error = failure(session, [source(photo_jpeg)]).error
    assert isinstance(error, CapabilityError)
    assert error.message == "model 'textonly' has no vision capability, so it cannot look at images"
    with Session(Settings.load(environ)) as session:
        session.parameters = session.parameters.merged(think=True)
        error = failure(session, [source(photo_jpeg)]).error
    assert isinstance(error, CapabilityError) and error.message == "model 'minicpm-v' has no thinking capability"
    assert not ollama_standin.requests_to("/api/chat")


def test_a_conversation_resends_identical_image_bytes(environ, ollama_standin, photo_jpeg, receipt_png):
    with Session(Settings.load(environ)) as session:
        chat = session.conversation(system="Be terse.")
        chat.attach([source(photo_jpeg)])
        assert chat.send("first?").result().answer == "A red square."
        assert chat.send("and this one?", [source(receipt_png)]).result().answer == "A red square."
        assert len(chat.messages) == 4 and not chat.pending
    first, second = (request.json["messages"] for request in ollama_standin.requests_to("/api/chat"))
    assert first[0] == {"role": "system", "content": "Be terse."}
    assert second[:3] == first[:2] + [{"role": "assistant", "content": "A red square."}]
    assert second[1]["images"] == first[1]["images"]  # byte-identical: the prompt cache hits
    assert len(second[3]["images"]) == 1 and second[3]["content"] == "[img]\nand this one?"


def test_a_failed_turn_leaves_the_conversation_as_it_was(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="one two three four", error_after=2, error="out of memory")
    with Session(Settings.load(environ)) as session:
        chat = session.conversation()
        events = events_of(chat.send("hi", [source(photo_jpeg)]))
        assert isinstance(events[-1], Failed) and events[-1].error.message.endswith("out of memory")
        assert events[-1].partial == "one two"
        assert chat.messages == [] and len(chat.pending) == 1  # ready to ask again
        with pytest.raises(UsageError, match="nothing to send"):
            session.conversation().send()


def test_closing_a_turn_stops_the_generation(environ, ollama_standin, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer=" ".join(f"w{i}" for i in range(100)), delay=0.02)
    with Session(Settings.load(environ)) as session:
        turn = session.ask([source(photo_jpeg)])
        for event in turn:
            if isinstance(event, TextChunk):
                turn.close()
                break
    chat = ollama_standin.requests_to("/api/chat")[-1]
    assert ollama_standin.wait_for(chat.finished.is_set)
    assert chat.cancelled and chat.lines_sent < 100


def test_result_raises_the_typed_error(environ, ollama_standin, photo_jpeg, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_bytes(b"not an image")
    with Session(Settings.load(environ)) as session:
        with pytest.raises(Exception) as caught:
            session.ask([source(bad)]).result()
    assert caught.value.exit_code == 2 and "notes.png" in caught.value.message
    assert not ollama_standin.requests_to("/api/chat")


def test_no_think_is_not_sent_to_a_model_that_cannot_think(environ, ollama_standin, photo_jpeg):
    with Session(Settings.load(environ)) as session:
        session.parameters = session.parameters.merged(think=False)
        assert session.ask([source(photo_jpeg)]).result().answer == "A red square."
    assert "think" not in ollama_standin.requests_to("/api/chat")[-1].json
