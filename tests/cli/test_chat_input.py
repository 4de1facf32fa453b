"""What the chat's line editor completes and remembers (prompt_toolkit's pieces, without a terminal)."""

from __future__ import annotations

import shlex

import pytest
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document
from prompt_toolkit.history import FileHistory

from mcv.cli.chat import commands
from mcv.cli.chat.image_args import sources_from_argument
from mcv.cli.chat.line_input import MAX_FILE_BYTES, MAX_STORED, ChatCompleter, _bounded, _trim, current_word, quoted_path
from mcv.core.options import OPTION_TYPES


@pytest.fixture
def folder(tmp_path):
    pictures = tmp_path / "My Pictures"
    pictures.mkdir()
    (pictures / "receipt one.png").write_bytes(b"x")
    (pictures / "it's.png").write_bytes(b"x")
    return tmp_path


def complete(text: str) -> list[tuple[str, int]]:
    completer = ChatCompleter(commands.COMMANDS, list(OPTION_TYPES), lambda: 2)
    found = completer.completions(Document(text, len(text)), CompleteEvent(completion_requested=True))
    return [(c.text, c.start_position) for c in found]


def applied(text: str, completion: tuple[str, int]) -> str:
    insert, start = completion
    return text[: len(text) + start] + insert


def test_a_folder_with_a_space_completes_quoted_or_escaped(folder):
    for typed in (f"/image {folder}/My\\ Pi", f"/image '{folder}/My Pi", f'/image "{folder}/My Pi', f"/image {folder}/My"):
        (only,) = complete(typed)
        line = applied(typed, only)
        raw, value, quote = current_word(line[len("/image "):])
        assert raw == line[len("/image "):] and value == f"{folder}/My Pictures", typed  # one word, left open


def test_a_file_completes_to_one_word_the_image_command_reads(folder):
    typed = f"/image {folder}/My\\ Pictures/rec"
    (only,) = complete(typed)
    line = applied(typed, only)
    assert line == f"/image {folder}/My\\ Pictures/receipt\\ one.png"
    [source] = sources_from_argument(line[len("/image "):])
    assert source.value == f"{folder}/My Pictures/receipt one.png"
    quoted = f"/image '{folder}/My Pictures/it"
    (only,) = complete(quoted)
    line = applied(quoted, only)
    assert shlex.split(line[len("/image "):]) == [f"{folder}/My Pictures/it's.png"]
    assert sources_from_argument(line[len("/image "):])[0].value == f"{folder}/My Pictures/it's.png"


def test_the_second_path_completes_on_its_own(folder):
    typed = f"/image {folder}/My\\ Pictures/it\\'s.png {folder}/My\\ Pictures/rec"
    (only,) = complete(typed)
    assert applied(typed, only).endswith("receipt\\ one.png") and applied(typed, only).count("receipt") == 1


def test_other_arguments_complete_as_before():
    assert ("/images", -4) in complete("/ima")
    assert complete("/think o") == [("on", -1), ("off", -1)]
    assert complete("/drop ") == [("1", 0), ("2", 0)]
    assert ("num_ctx", -5) in complete("/set num_c")
    assert complete("/set num_ctx=") == []


def test_current_word_reads_as_shlex_does():
    for typed in ("a\\ b", "'a b", '"a b', "x 'y z' w\\ v", "", "a  "):
        raw, value, quote = current_word(typed)
        assert typed.endswith(raw)
        closed = raw + (quote or "")
        assert (shlex.split(closed) or [""])[-1] == value, typed
    for path in ("/tmp/My Pictures/it's \"x\".png", "plain.png"):
        for quote in ("", "'", '"'):
            assert shlex.split(quoted_path(path, quote)) == [path]


def test_long_pastes_stay_out_of_the_history_file(tmp_path):
    path = tmp_path / "history"
    history = _bounded(FileHistory)(str(path))
    history.append_string("short question")
    history.append_string("x" * (MAX_STORED + 1))
    assert history.get_strings()[-1] == "x" * (MAX_STORED + 1)  # Up still finds it in this chat
    assert list(FileHistory(str(path)).load_history_strings()) == ["short question"]


def test_a_grown_history_file_keeps_its_newest_half(tmp_path):
    path = tmp_path / "history"
    history = FileHistory(str(path))
    entry = "q" * 1000
    for number in range(MAX_FILE_BYTES // 1000 + 50):
        history.store_string(f"{number} {entry}")
    before = path.stat().st_size
    _trim(path)
    assert path.stat().st_size < min(before, MAX_FILE_BYTES)
    kept = list(FileHistory(str(path)).load_history_strings())
    assert kept[0].startswith(f"{MAX_FILE_BYTES // 1000 + 49} ") and len(kept) > 100  # the newest, in order
    size = path.stat().st_size
    _trim(path)
    assert path.stat().st_size == size  # small enough: left alone
