"""Files dropped or pasted onto a terminal, as each kind of terminal types them."""

from __future__ import annotations

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
