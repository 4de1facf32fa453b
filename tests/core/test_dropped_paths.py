"""Files dropped or pasted onto a terminal, as each kind of terminal types them."""

from __future__ import annotations

import os
from urllib.parse import quote

import pytest

from mcv.core.dropped_paths import dropped_images


@pytest.fixture
def folder(tmp_path):
    for name in ("plain.png", "with space.jpg", "Screenshot 2024-05-01 at 10.00.00\u202fAM.png", "it's.png", "notes.txt"):
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


def names(sources):
    return None if sources is None else [s.label for s in sources]


def test_the_ways_terminals_type_a_dropped_file(folder):
    shot = "Screenshot 2024-05-01 at 10.00.00\u202fAM.png"
    assert names(dropped_images(f"'{folder}/with space.jpg' ")) == ["with space.jpg"]  # GNOME, KDE
    assert names(dropped_images(f"{folder}/with\\ space.jpg")) == ["with space.jpg"]  # macOS Terminal, iTerm2
    assert names(dropped_images(f'"{folder}/with space.jpg"')) == ["with space.jpg"]
    assert names(dropped_images((folder / "with space.jpg").as_uri())) == ["with space.jpg"]  # file manager copy
    assert names(dropped_images(f"{folder}/{shot}".replace(" ", "\\ "))) == [shot]  # U+202F kept
    plain_spaces = f"{folder}/{shot}".replace("\u202f", " ").replace(" ", "\\ ")
    assert names(dropped_images(plain_spaces)) == [shot]  # U+202F turned into a space on the way
    assert names(dropped_images(f"'{folder}/{shot}'".replace("\u202f", "\u00a0"))) == [shot]
    assert names(dropped_images(f"{folder}/it\\'s.png")) == ["it's.png"]
    assert names(dropped_images(f"'{folder}/plain.png' '{folder}/with space.jpg' ")) == ["plain.png", "with space.jpg"]


def test_relative_names_need_an_image_extension_or_a_separator(folder):
    assert names(dropped_images("plain.png", cwd=str(folder))) == ["plain.png"]
    assert names(dropped_images("./notes.txt", cwd=str(folder))) == ["notes.txt"]  # a path: preparing says what it is
    assert dropped_images("notes.txt", cwd=str(folder)) is None


def test_questions_stay_questions(folder):
    for line in (
        "what is the total?",
        f"what is in {folder}/plain.png?",
        f"{folder}/plain.png what is it",
        f"'{folder}/missing.png'",
        "don't",  # an unbalanced quote
        "",
        "/image",
    ):
        assert dropped_images(line, cwd=str(folder)) is None, line


def test_a_pasted_list_of_file_uris_is_a_drop(folder):
    uris = [(folder / "plain.png").as_uri(), (folder / "with space.jpg").as_uri()]
    assert names(dropped_images("\r\n".join(uris) + "\r\n")) == ["plain.png", "with space.jpg"]  # text/uri-list
    assert names(dropped_images("\n".join(uris))) == ["plain.png", "with space.jpg"]
    assert names(dropped_images(f"{uris[0]}\n\n  {folder}/plain.png  \n")) == ["plain.png", "plain.png"]
    assert dropped_images(f"{uris[0]}\nwhat are these?") is None  # one line of text: a question
    assert dropped_images("\r\n\r\n") is None


def test_a_name_that_is_not_utf8(tmp_path):
    raw = bytes(tmp_path) + b"/caf\xe9 \xff.png"  # Latin-1 bytes, as an old camera or archive leaves them
    with open(raw, "wb") as file:
        file.write(b"x")
    typed = os.fsdecode(raw)  # what Python hands over for such a name
    for line in (typed.replace(" ", "\\ "), f"'{typed}'", "file://" + quote(raw)):
        (source,) = dropped_images(line)
        assert os.fsencode(source.value) == raw  # the real bytes, to open
        assert source.label == "caf\ufffd \ufffd.png"  # text any writer takes
        source.label.encode("utf-8")
