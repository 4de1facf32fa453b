"""What the three editor plugins' tests share: a recording stub mcv over a folder of hostile file
names, and the real mcv against the Ollama stand-in."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent
HOSTILE_NAMES = ["-rf x.png", "q\"$(id)'`.png", "semi;colon | pipe.png", "new\nline.png", "plain.png", "fail.png"]
ANSWER = "A red square on a white table."
QUESTION = "summary"  # one word that names a file beside the image: it must stay the question


@pytest.fixture
def stub_env(tmp_path, mcv_env):
    """(environment, argv log): stub_mcv.py as mcv, MCV_TEST_DIR holding HOSTILE_NAMES and notes.txt."""
    folder = tmp_path / "images"
    folder.mkdir()
    for name in HOSTILE_NAMES:
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    for name in ["shot[1].png", "shot1.png", "#a.png", "a$HOME.png"]:  # names Vim's expand() would change
        (folder / name).write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "notes.txt").write_text("not an image")
    log = tmp_path / "argv.jsonl"
    mcv_env.update(
        MCV_TEST_MODE="stub", MCV_TEST_DIR=str(folder), MCV_STUB_LOG=str(log),
        MCV_TEST_CMD=json.dumps([str(HERE / "stub_mcv.py")]),
    )  # fmt: skip
    return mcv_env, log


@pytest.fixture
def real_env(tmp_path, mcv_env, ollama_standin, photo_jpeg):
    """(environment, check_requests): the real mcv (MCV_TEST_CMD) answering ANSWER through the
    stand-in; MCV_TEST_PHOTO is `photo one.jpg` in MCV_TEST_DIR, beside a file named QUESTION
    (MCV_TEST_QUESTION). check_requests() asserts what the editor's run sent and returns the chats."""
    ollama_standin.add_model("minicpm-v", answer=ANSWER)
    folder = tmp_path / "notes"
    folder.mkdir()
    photo = folder / "photo one.jpg"
    photo.write_bytes(Path(photo_jpeg).read_bytes())
    (folder / QUESTION).write_text("a file named like the question")
    mcv_env.update(
        OLLAMA_HOST=ollama_standin.url, MCV_TEST_MODE="real", MCV_TEST_DIR=str(folder), MCV_TEST_PHOTO=str(photo),
        MCV_TEST_QUESTION=QUESTION, MCV_TEST_CMD=json.dumps([sys.executable, "-m", "mcv"]),
    )  # fmt: skip

    def check_requests() -> list:
        """Three asks (describe, the question, alt text), one image each; the question went as
        the question, not as a second image."""
        chats = ollama_standin.requests_to("/api/chat")
        assert len(chats) == 3 and all(len(chat.json["messages"][-1]["images"]) == 1 for chat in chats)
        assert chats[1].json["messages"][-1]["content"] == "[img]\n" + QUESTION
        return chats

    return mcv_env, check_requests
