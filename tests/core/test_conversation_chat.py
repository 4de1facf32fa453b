"""The core conversation as a chat uses it: retry, interrupted answers, dropping images,
the context estimate, saving and loading. Against the strict Ollama stand-in."""

from __future__ import annotations

import pytest

from mcv.core.context import ANSWER_ROOM, image_tokens, text_tokens
from mcv.core.events import Done, Failed, TextChunk
from mcv.core.images.types import ImageSource
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.errors import UsageError


def source(path) -> ImageSource:
    return ImageSource("path", str(path), path.name)


@pytest.fixture
def environ(mcv_env, ollama_standin):
    answers = iter(f"answer {n}" for n in range(1, 100))
    ollama_standin.add_model("minicpm-v", answer=lambda request: next(answers), parameters={"num_ctx": 2048})
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


@pytest.fixture
def session(environ):
    with Session(Settings.load(environ)) as session:
        yield session


def requests(standin) -> list[dict]:
    return [request.json for request in standin.requests_to("/api/chat")]


def test_retry_asks_the_same_question_with_its_images_and_keeps_waiting_ones(session, ollama_standin, photo_jpeg, receipt_png):
    chat = session.conversation()
    chat.send("what is it?", [source(photo_jpeg)]).result()
    waiting = chat.attach([source(receipt_png)])
    done = chat.retry().result()
    assert done.answer == "answer 2"
    assert [m.content for m in chat.messages] == ["what is it?", "answer 2"]
    assert chat.pending == waiting  # still waiting for the next question
    first, second = requests(ollama_standin)
    assert second["messages"] == first["messages"]  # the same question, the same image bytes


def test_a_failed_retry_keeps_the_old_answer(session, ollama_standin, photo_jpeg):
    chat = session.conversation()
    chat.send("what is it?", [source(photo_jpeg)]).result()
    ollama_standin.find("minicpm-v").error_after = 0
    events = list(chat.retry())
    assert isinstance(events[-1], Failed)
    assert [m.content for m in chat.messages] == ["what is it?", "answer 1"] and chat.pending == []


def test_retry_needs_an_answer(session):
    with pytest.raises(UsageError, match="nothing to retry"):
        session.conversation().retry()


def test_closing_a_turn_mid_answer_keeps_the_partial_marked(session, ollama_standin, photo_jpeg):
    ollama_standin.find("minicpm-v").answer = lambda request: "one two three four five six"
    chat = session.conversation()
    turn = chat.send("count", [source(photo_jpeg)])
    seen = []
    for event in turn:
        if isinstance(event, TextChunk):
            seen.append(event.text)
            if len(seen) == 2:
                turn.close()
                break
    (question, answer) = chat.messages
    assert question.content == "count" and len(question.images) == 1
    assert answer.interrupted and answer.content == "".join(seen) and chat.pending == []


def test_closing_a_turn_before_any_text_leaves_the_conversation_as_it_was(session, photo_jpeg):
    chat = session.conversation()
    turn = chat.send("count", [source(photo_jpeg)])
    next(iter(turn))  # Routed
    turn.close()
    assert chat.messages == [] and len(chat.pending) == 0


def test_drop_waiting_and_sent_images(session, ollama_standin, photo_jpeg, receipt_png, screenshot_png):
    chat = session.conversation()
    chat.send("first", [source(photo_jpeg)]).result()
    chat.attach([source(receipt_png), source(screenshot_png)])
    assert [(e.number, e.image.label, e.message) for e in chat.image_entries()] == [
        (1, "photo.jpg", 0), (2, "receipt.png", None), (3, "screenshot.png", None)
    ]
    assert chat.drop(2).image.label == "receipt.png"
    assert [image.label for image in chat.pending] == ["screenshot.png"]
    assert chat.drop(1).message == 0
    assert chat.messages[0].images == () and chat.messages[0].content == "first"
    with pytest.raises(UsageError, match="no image 5: the images are numbered 1 to 1"):
        chat.drop(5)
    chat.send("second").result()
    assert sum(len(m.get("images") or []) for m in requests(ollama_standin)[-1]["messages"]) == 1


def test_undo_and_clear(session, photo_jpeg):
    chat = session.conversation()
    chat.send("first", [source(photo_jpeg)]).result()
    chat.history_id = 7
    question, answer = chat.undo()
    assert question.content == "first" and chat.messages == []
    with pytest.raises(UsageError):
        chat.undo()
    chat.attach([source(photo_jpeg)])
    chat.clear()
    assert (chat.messages, chat.pending, chat.history_id) == ([], [], None)


def test_context_estimate_counts_the_slice_grid_and_the_modelfile_num_ctx(session, ollama_standin, screenshot_png):
    chat = session.conversation()
    chat.attach([source(screenshot_png)])
    estimate = chat.context("what does it say?")
    image = chat.pending[0]
    assert estimate.limit == 2048  # PARAMETER num_ctx of the model, from /api/show
    assert estimate.image_tokens == image_tokens(image.width, image.height, 64) > 64 * 9
    assert estimate.text_tokens == text_tokens("what does it say?") + 6
    assert estimate.total + ANSWER_ROOM <= 2048 and not estimate.overflows
    session.parameters = session.parameters.merged(options={"num_ctx": 700})
    assert chat.context("what does it say?").overflows


def test_text_tokens_rule():
    assert text_tokens("abcd" * 10) == 10
    assert text_tokens("收据总额") == 4


def test_done_is_kept_for_stats(session, photo_jpeg):
    chat = session.conversation()
    done = chat.send("hi", [source(photo_jpeg)]).result()
    assert isinstance(chat.last, Done) and chat.last == done and done.metrics.eval_count


def test_save_and_load_both_formats(session, ollama_standin, tmp_path, photo_jpeg, receipt_png):
    chat = session.conversation(system="Be brief.")
    chat.send("what is it?", [source(photo_jpeg)]).result()
    chat.attach([source(receipt_png)])
    for name in ("chat.md", "chat.json"):
        assert chat.save(tmp_path / name) == ("json" if name.endswith("json") else "markdown")
        other = session.conversation()
        other.load(tmp_path / name)
        assert (other.system, other.messages, other.pending) == (chat.system, chat.messages, chat.pending)
    (tmp_path / "notes.md").write_text("my notes")
    with pytest.raises(UsageError, match="not a saved mcv chat: not replacing it"):
        chat.save(tmp_path / "notes.md")
    assert (tmp_path / "notes.md").read_text() == "my notes"
