"""`mcv chat` as people use it: the real program on a pseudo-terminal, typed at
through pexpect, its screen read through a terminal emulator (pyte), against
the strict Ollama stand-in (the in-process engine: test_chat_tty_llama.py).
"""

from __future__ import annotations

import json
import sys
import time

import pytest
from support.images import jpeg_bytes, make_photo, make_receipt, png_bytes
from support.tty import Terminal

pytestmark = pytest.mark.slow

LONG_ANSWER = " ".join(f"word{n}" for n in range(400))


def answer(request) -> str:
    """What the stand-in says: it names the question and counts the images it was sent."""
    messages = request["messages"]
    images = sum(len(m.get("images") or []) for m in messages)
    question = messages[-1]["content"].replace("[img]\n", "").replace("\n", " / ")
    if "long" in question:
        return LONG_ANSWER
    return f"Answer to «{question}» with {images} images."


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "receipt.jpg").write_bytes(jpeg_bytes(make_receipt()))
    (tmp_path / "second.png").write_bytes(png_bytes(make_photo(800, 600, seed=3)))
    return tmp_path


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer=answer, delay=0.002)
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_CHAT_PREVIEW": "blocks"}


def chat(environ, folder, *args) -> Terminal:
    return Terminal([sys.executable, "-m", "mcv", "chat", *args], env=environ, cwd=folder)


def chats(standin) -> list[dict]:
    return [request.json for request in standin.requests_to("/api/chat")]


def images_sent(request) -> list[str]:
    return [image for message in request["messages"] for image in message.get("images") or []]


def test_attach_without_sending_drop_then_ask(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(r"image 1: receipt\.jpg, 600x1400")
        term.wait_for(r"▀▀▀▀")  # the thumbnail, in half-blocks
        term.wait_for(r"\[\+1 image\] >>>")
        term.line("/image second.png")
        term.wait_for(r"image 2: second\.png, 800x600; waiting")
        assert chats(ollama_standin) == []  # attaching sends nothing
        term.line("/images")
        term.wait_for(r"2  second\.png  800x600  waiting for the next question")
        term.line("/drop 2")
        term.wait_for(r"dropped waiting image 2: second\.png")
        term.line("what is the total?")
        term.wait_for(r"Answer to «what is the total\?» with 1 images\.")
        term.wait_for(r"\n>>>\s*$")  # the prompt is back, no image waiting
        term.end()
        assert term.exit_code() == 0
    (request,) = chats(ollama_standin)
    assert len(images_sent(request)) == 1


def test_a_dropped_path_is_attached_not_sent(environ, folder, ollama_standin):
    shot = folder / "Screenshot 2024-05-01 at 10.00.00\u202fAM.png"
    shot.write_bytes(png_bytes(make_photo(320, 200, seed=5)))
    with chat(environ, folder) as term:
        term.wait_for(">>>")
        term.line(f"'{folder / 'second.png'}' ")  # GNOME/KDE: quoted, a trailing space
        term.wait_for(r"image 1: second\.png")
        term.wait_for(r">>>", after=term.mark() - 20)
        term.line(str(shot).replace(" ", "\\ "))  # macOS Terminal: spaces escaped, U+202F as it is
        term.wait_for(r"image 2: Screenshot 2024-05-01 at 10\.00\.00.AM\.png")
        term.line(str(shot).replace("\u202f", " ").replace(" ", "\\ "))  # U+202F became a plain space on the way
        term.wait_for(r"Screenshot 2024-05-01 at 10\.00\.00.AM\.png: the same picture as image 2; not attached twice")
        term.line((folder / "receipt.jpg").as_uri())
        term.wait_for(r"image 3: receipt\.jpg")
        assert chats(ollama_standin) == []
        term.line("and these?")
        term.wait_for(r"with 3 images")
        term.end()
        assert term.exit_code() == 0


def test_interrupt_keeps_the_partial_answer_then_retry(environ, folder, ollama_standin):
    ollama_standin.find("minicpm-v").delay = 0.05
    with chat(environ, folder, "receipt.jpg", "--plain") as term:
        term.wait_for(">>>")
        term.line("a long answer please")
        term.wait_for(r"word5 ")
        term.interrupt()
        term.wait_for(r"mcv: interrupted\n+>>>")  # the prompt is back
        at = term.mark()
        first = ollama_standin.requests_to("/api/chat")[0]
        ollama_standin.wait_for(lambda: first.finished.is_set())
        assert first.cancelled and first.lines_sent < 400  # the stream was closed, the daemon stopped
        ollama_standin.find("minicpm-v").delay = 0.0
        term.line("/save kept.json")
        term.wait_for(r"saved to kept\.json")
        term.line("/retry")
        term.wait_for(r"word399", after=at)
        term.line("/save again.json")
        term.wait_for(r"saved to again\.json")
        term.end()
        assert term.exit_code() == 0
    kept = json.loads((folder / "kept.json").read_text())
    partial = kept["messages"][-1]
    assert partial["interrupted"] is True and partial["content"].startswith("word0 word1")
    assert len(partial["content"]) < len(LONG_ANSWER)
    again = json.loads((folder / "again.json").read_text())
    assert [m["role"] for m in again["messages"]] == ["user", "assistant"]
    assert again["messages"][-1]["content"] == LONG_ANSWER and "interrupted" not in again["messages"][-1]
    retried = chats(ollama_standin)[-1]
    assert retried["messages"][-1]["content"] == "[img]\na long answer please"
    assert images_sent(retried) == images_sent(chats(ollama_standin)[0])


def test_save_and_load_round_trip(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("what is the total?")
        term.wait_for(r"with 1 images")
        term.line("/image second.png")
        term.wait_for(r"image 2: second\.png")
        term.line("compare them")
        term.wait_for(r"with 2 images")
        term.line("/save t.md")
        term.wait_for(r"saved to t\.md \(Markdown, 2 images\)")
        term.line("/clear")
        term.wait_for(r"a new chat")
        term.line("/load t.md")
        term.wait_for(r"loaded t\.md: 4 messages, 2 images")
        term.line("and now?")
        term.wait_for(r"Answer to «and now\?» with 2 images")
        term.end()
        assert term.exit_code() == 0
    before, after = chats(ollama_standin)[1], chats(ollama_standin)[2]
    assert after["messages"][: len(before["messages"])][:-1] == before["messages"][:-1]
    assert images_sent(after) == images_sent(before)  # the same bytes: the prompt cache hits
    markdown = (folder / "t.md").read_text()
    assert "### You" in markdown and "![second.png][image-2]" in markdown


def test_resume_from_history_after_the_image_is_deleted(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("what is the total?")
        term.wait_for(r"with 1 images")
        term.line("/exit")
        term.wait_for(r"chat 1 is in the history: `mcv chat --continue 1`")
        assert term.exit_code() == 0
    (folder / "receipt.jpg").unlink()
    with chat(environ, folder, "--continue") as term:
        term.wait_for(r"continuing chat 1: what is the total\? \(2 messages, 1 image\)")
        term.wait_for(r"Answer to «what is the total\?» with 1 images")  # the last exchange, again
        term.line("still there?")
        term.wait_for(r"Answer to «still there\?» with 1 images")
        term.end()
        assert term.exit_code() == 0
    first, resumed = chats(ollama_standin)
    assert images_sent(resumed) == images_sent(first)
    assert resumed["messages"][:2] == [first["messages"][0], {"role": "assistant", "content": answer(first)}]


def test_set_reaches_the_request_options_and_is_type_checked(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("/set temperature 0.2")
        term.wait_for(r"temperature = 0\.2")
        term.line("/set num_ctx 8192")
        term.wait_for(r"num_ctx = 8192")
        term.line("/set num_ctx lots")
        term.wait_for(r"mcv: error: option 'num_ctx' must be an integer, not \"lots\"")
        term.line("/set colour red")
        term.wait_for(r"mcv: error: unknown option 'colour'")
        term.line("/set stop END")
        term.wait_for(r"stop = \['END'\]")
        term.line("hello")
        term.wait_for(r"Answer to «hello»")
        term.line("/set temperature")
        term.wait_for(r"temperature back to the model's default")
        term.line("again")
        term.wait_for(r"Answer to «again»")
        term.end()
        assert term.exit_code() == 0
    first, second = chats(ollama_standin)
    assert first["options"] == {"temperature": 0.2, "num_ctx": 8192, "stop": ["END"]}
    assert second["options"] == {"num_ctx": 8192, "stop": ["END"]}


def test_ctrl_d_leaves_and_keeps_what_was_typed(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("what is the total?")
        term.wait_for(r"with 1 images")
        term.type("half a thought")
        term.wait_for(r">>> half a thought")
        term.end()
        term.wait_for(r"chat 1 is in the history")
        assert term.exit_code() == 0
    with chat(environ, folder, "--continue", "1") as term:
        term.wait_for(r">>> half a thought")  # the draft is back, ready to finish
        term.type(", finished\r")
        term.wait_for(r"Answer to «half a thought, finished»")
        term.end()
        assert term.exit_code() == 0


def test_a_vanished_daemon_is_one_line_and_the_chat_goes_on(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("first")
        term.wait_for(r"Answer to «first»")
        ollama_standin.stop()
        at = term.mark()
        term.line("second")
        error = term.wait_for(r"mcv: error: [^\n]+", after=at)
        assert "Traceback" not in term.text()[at:]
        assert "Ollama" in error.group(0)
        term.wait_for(r"your question is kept: Up brings it back\n+>>>\s*$", after=error.end())
        kept = term.mark()  # the end of what is shown: the blank rows below the prompt fill up later
        term.line("/images")  # typed at an empty prompt: a command, not glued to the question
        term.wait_for(r">>> /images\n  1  receipt\.jpg  600x1400  sent with question 1", after=kept - 3)
        listed = term.mark()
        term.type("\x1b[A")  # Up, Up: past /images, the question is back, nothing lost
        term.type("\x1b[A")
        term.wait_for(r">>> second\s*$", after=listed - 3)
        term.end()
        assert term.exit_code() == 0


def test_overflow_is_said_before_sending(environ, folder, ollama_standin):
    with chat(environ, folder, "receipt.jpg", "second.png") as term:
        term.wait_for(r"\[\+2 images\] >>>")
        term.line("/set num_ctx 900")
        term.wait_for(r"num_ctx = 900")
        term.line("compare them")
        term.wait_for(r"this turn would overflow the context: ≈[\d,]+ of 900 tokens")
        term.wait_for(r"/clear starts over, /drop N removes an image")
        assert chats(ollama_standin) == []
        term.wait_for(r"Up then Enter sends it anyway\n+\[\+2 images\] >>>\s*$")
        term.type("\x1b[A")  # Up: offered again
        term.wait_for(r">>> compare them\s*$")
        term.type("\r")  # Enter: send anyway
        term.wait_for(r"Answer to «compare them» with 2 images")
        term.end()
        assert term.exit_code() == 0
    assert len(chats(ollama_standin)) == 1


def test_multi_line_messages_and_completion(environ, folder, ollama_standin):
    with chat(environ, folder) as term:
        term.wait_for(">>>")
        term.type("/ima\t")
        term.wait_for(r"/images\s+list the waiting images")  # the menu shows both
        term.type("\x15")
        term.type("/image rec\t")
        term.wait_for(r">>> /image receipt\.jpg")
        term.type("\r")
        term.wait_for(r"image 1: receipt\.jpg(.|\n)*\[\+1 image\] >>>")
        term.type("line one\x1b\r")  # Alt-Enter: a new line
        term.type("line two\r")
        term.wait_for(r"Answer to «line one / line two»(.|\n)*>>>")
        term.type('"""\r')
        term.type("block one\r")
        term.type('block two"""\r')
        term.wait_for(r"Answer to «block one / block two»")
        term.line("/help")
        for name in ("/image", "/images", "/drop", "/paste", "/clear", "/retry", "/undo", "/save", "/load", "/copy",
                     "/system", "/set", "/think", "/model", "/stats", "/help", "/exit"):
            term.wait_for(rf"\n  {name}\b")
        term.line("/stats")
        term.wait_for(r"last answer: prompt \d+ tok")
        term.wait_for(r"context: ≈[\d,]+ of 4,096 tokens")
        term.end()
        assert term.exit_code() == 0


def test_thinking_is_shown_apart(environ, folder, ollama_standin):
    ollama_standin.add_model("thinker", answer="The answer.", thinking=True, thinking_text="Let me look.")
    with chat(environ, folder, "-m", "thinker") as term:
        term.wait_for(">>>")
        term.line("/think on")
        term.wait_for(r"thinking on")
        term.line("why?")
        term.wait_for(r"Let me look\.\n+The answer\.")
        term.end()
        assert term.exit_code() == 0
    assert chats(ollama_standin)[-1]["think"] is True


def test_no_preview_draws_no_thumbnail(environ, folder):
    with chat(environ, folder, "receipt.jpg", "--no-preview") as term:
        term.wait_for(r"\[\+1 image\] >>>")
        time.sleep(0.2)
        assert "▀" not in term.text()
        term.end()
        assert term.exit_code() == 0


def test_a_damaged_file_to_load_is_one_line_and_the_chat_goes_on(environ, folder, ollama_standin):
    good = folder / "good.json"
    with chat(environ, folder, "receipt.jpg") as term:
        term.wait_for(">>>")
        term.line("what is the total?")
        term.wait_for(r"with 1 images")
        term.line(f"/save {good.name}")
        term.wait_for(r"saved to good\.json")
        document = json.loads(good.read_text())
        sha = next(iter(document["images"]))
        fake = b"\x89PNG\r\n\x1a\n" + bytes(100)  # an image's magic, nothing that decodes
        import base64
        import hashlib

        document["images"] = {hashlib.sha256(fake).hexdigest(): {"data": base64.b64encode(fake).decode()}}
        document["messages"][0]["images"][0].update(sha256=hashlib.sha256(fake).hexdigest(), mime="image/png")
        (folder / "bad.json").write_text(json.dumps(document))
        at = term.mark()
        term.line("/load bad.json")
        term.wait_for(r"mcv: error: bad\.json: image 'receipt\.jpg': its bytes are a damaged PNG image", after=at)
        term.line("/save crlf.md")
        term.wait_for(r"saved to crlf\.md")
        (folder / "crlf.md").write_bytes((folder / "crlf.md").read_bytes().replace(b"\n", b"\r\n"))
        term.line("/clear")
        term.line("/load crlf.md")
        term.wait_for(r"loaded crlf\.md: 2 messages, 1 image")
        term.line("still there?")
        term.wait_for(r"Answer to «still there\?» with 1 images")
        assert "Traceback" not in term.text()
        term.end()
        assert term.exit_code() == 0
    assert sha  # the good file named its image
