"""Saved chats: Markdown and JSON read back exactly, whatever the texts hold."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re

import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from mcv.core.backends.base import Message
from mcv.core.images.types import PreparedImage
from mcv.core.transcript import Transcript, from_json, from_markdown, load, to_json, to_markdown
from mcv.errors import InputError


def picture(colour=(200, 20, 20), label="a [b].png") -> PreparedImage:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), colour).save(buffer, "PNG")
    return PreparedImage(buffer.getvalue(), "image/png", 32, 24, 3200, 2400, label, ("first frame of 3",))


def sample(text: str = "The total is **$4**.\n\n## Items\n- one") -> Transcript:
    one, two = picture(), picture((0, 0, 255), "two.png")
    return Transcript(
        system="Answer in French.",
        messages=[
            Message("user", "what is the total?", (one,)),
            Message("assistant", text),
            Message("user", "and this one?", (two, one)),
            Message("assistant", "Cut sh", interrupted=True),
        ],
        pending=[two],
        model="minicpm-v:2.5-q4_K_M",
    )


def test_markdown_round_trip_and_reads_as_markdown():
    transcript = sample()
    text = to_markdown(transcript)
    back = from_markdown(text)
    assert (back.system, back.messages, back.pending, back.model) == (
        transcript.system, transcript.messages, transcript.pending, transcript.model
    )
    assert "### You\n\n![a (b).png][image-1]\n\nwhat is the total?" in text
    assert "### minicpm-v:2.5-q4_K_M (interrupted)" in text
    assert text.count("data:image/png;base64,") == 2  # each image once, however often used


def test_json_round_trip():
    transcript = sample()
    back = from_json(to_json(transcript))
    assert (back.system, back.messages, back.pending) == (transcript.system, transcript.messages, transcript.pending)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80).map(
    lambda t: t + "\n<!-- mcv:user chars=3 -->\n---\n\n<!-- mcv:image image-1 {} -->"
))
def test_any_answer_text_reads_back_exactly(text):
    transcript = sample(text)
    assert from_markdown(to_markdown(transcript)).messages == transcript.messages


def test_a_hand_edited_file_is_read_by_sections():
    text = to_markdown(sample()).replace("what is the total?", "what is the grand total?")
    back = from_markdown(text)
    assert back.messages[0].content == "what is the grand total?"
    assert back.messages[1].content.startswith("The total is")


def test_not_a_chat_and_damaged_files(tmp_path):
    (tmp_path / "notes.md").write_text("# my notes\n")
    with pytest.raises(InputError, match="not a chat saved by mcv"):
        load(tmp_path / "notes.md")
    with pytest.raises(InputError, match="no such file"):
        load(tmp_path / "missing.md")
    document = json.loads(to_json(sample()))
    sha, blob = next(iter(document["images"].items()))
    blob["data"] = picture((1, 2, 3)).b64()  # another image under this one's sha256
    with pytest.raises(InputError, match="do not match its sha256"):
        from_json(json.dumps(document))
    newer = to_markdown(sample()).replace("<!-- mcv-chat 1", "<!-- mcv-chat 9", 1)
    with pytest.raises(InputError, match="newer mcv"):
        from_markdown(newer)


# --- files from elsewhere: line ends, byte-order marks, hand edits -----------------------------


def test_markdown_with_crlf_line_ends_reads_back_the_same(tmp_path):
    transcript = sample("line one\nline two")
    (tmp_path / "chat.md").write_bytes(to_markdown(transcript).replace("\n", "\r\n").encode())
    back = load(tmp_path / "chat.md")
    assert (back.system, back.messages, back.pending) == (transcript.system, transcript.messages, transcript.pending)


def test_a_byte_order_mark_is_not_in_the_way(tmp_path):
    transcript = sample()
    for name, text in (("chat.md", to_markdown(transcript)), ("chat.json", to_json(transcript))):
        (tmp_path / name).write_bytes("\ufeff".encode() + text.encode())
        assert load(tmp_path / name).messages == transcript.messages, name


def test_a_header_with_nothing_that_reads_as_a_chat_is_an_error():
    text = to_markdown(sample()).replace("<!-- mcv:", "<!-- edited:")
    with pytest.raises(InputError, match="no part of it reads as one"):
        from_markdown(text)
    empty = to_markdown(Transcript(model="m"))  # a chat saved before anything was said
    assert from_markdown(empty).messages == []


def test_text_that_is_not_utf8_is_one_line(tmp_path):
    (tmp_path / "chat.md").write_bytes(b"<!-- mcv-chat 1 -->\n\xff\xfe")
    with pytest.raises(InputError, match="not UTF-8"):
        load(tmp_path / "chat.md")
    with pytest.raises(InputError, match="is a folder"):
        load(tmp_path)


def document() -> dict:
    return json.loads(to_json(sample()))


def first_sha(doc: dict) -> str:
    return doc["messages"][0]["images"][0]["sha256"]


def damaged(change) -> str:
    doc = document()
    change(doc)
    return json.dumps(doc)


def _swap_bytes(doc: dict, data: bytes) -> None:
    """The first image's bytes replaced, its sha256 made to match them (its other uses keep the old)."""
    ref = doc["messages"][0]["images"][0]
    ref["sha256"] = hashlib.sha256(data).hexdigest()
    doc["images"][ref["sha256"]] = {"data": base64.b64encode(data).decode()}


def _jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 24), (9, 9, 9)).save(buffer, "JPEG")
    return buffer.getvalue()


def _png_bytes(size=(32, 24)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (9, 9, 9)).save(buffer, "PNG")
    return buffer.getvalue()


MALFORMED = {
    "version is text": (lambda d: d.update(version="abc"), "format version is not a number"),
    "version is a list": (lambda d: d.update(version=[1]), "format version is not a number"),
    "version is true": (lambda d: d.update(version=True), "format version is not a number"),
    "system is a number": (lambda d: d.update(system=5), '"system" is not text'),
    "model is a list": (lambda d: d.update(model=["m"]), '"model" is not text'),
    "messages is text": (lambda d: d.update(messages="abc"), '"messages" is not a list'),
    "a message is text": (lambda d: d["messages"].__setitem__(0, "abc"), "message 1 is not an object"),
    "a role is missing": (lambda d: d["messages"][0].pop("role"), "message 1 has no role"),
    "content is a number": (lambda d: d["messages"][1].update(content=7), "content of message 2 is not text"),
    "images is a list of text": (lambda d: d.update(images=["abc"]), '"images" is not an object'),
    "a message's images is text": (lambda d: d["messages"][0].update(images="x"), "images of message 1 are not a list"),
    "an image ref is text": (lambda d: d["messages"][0].update(images=["abc"]), "an image of message 1 is not an object"),
    "a blob is missing": (lambda d: d.update(images={}), "data of an image of message 1 is not included"),
    "a ref has no sha256": (lambda d: d["waiting"][0].pop("sha256"), "data of an image of the waiting images is not included"),
    "a blob is not base64": (lambda d: d["images"].update({first_sha(d): {"data": "@@"}}), "not valid base64"),
    "bytes are not an image": (
        lambda d: _swap_bytes(d, b"just some text, not an image at all"), "its bytes are not a PNG image"
    ),
    "bytes are a damaged image": (lambda d: _swap_bytes(d, not_an_image_bytes()), "damaged PNG image"),
    "a JPEG called a PNG": (lambda d: _swap_bytes(d, _jpeg_bytes()), "its bytes are not a PNG image"),
    "the size is wrong": (lambda d: _swap_bytes(d, _png_bytes((10, 10))), "its bytes are 10x10, its record says 32x24"),
    "the mime is odd": (lambda d: d["messages"][0]["images"][0].update(mime="image/gif"), "not a prepared image's type"),
    "a width is text": (lambda d: d["messages"][0]["images"][0].update(width="wide"), "width is not a size"),
    "a width is negative": (lambda d: d["messages"][0]["images"][0].update(width=-32), "width is not a size"),
    "notes is text": (lambda d: d["messages"][0]["images"][0].update(notes="x"), "notes are not a list"),
    "two questions in a row": (lambda d: d["messages"][1].update(role="user"), "message 2 should be an answer"),
    "a question without answer": (lambda d: d["messages"].pop(), "the last question has no answer"),
}


def not_an_image_bytes() -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_json_is_one_clear_line(case):
    change, message = MALFORMED[case]
    with pytest.raises(InputError, match=message) as caught:
        from_json(damaged(change), "t.json")
    assert caught.value.message.startswith("t.json") and "\n" not in caught.value.message


def test_malformed_markdown_image_records_are_one_clear_line():
    text = to_markdown(sample())
    record = re.search(r"<!-- mcv:image image-1 (\{.*\}) -->", text).group(1)
    with pytest.raises(InputError, match="t.md: image 'a \\[b\\].png': its record has no sha256"):
        from_markdown(text.replace(record, json.dumps({**json.loads(record), "sha256": 5})), "t.md")
    with pytest.raises(InputError, match="image-1 is referred to but not included"):
        from_markdown(text.replace(record, "{not json"))


# --- fuzzing /load: whatever the file holds, a Transcript or one InputError ---------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
_PATHS = st.lists(st.sampled_from(["messages", 0, 1, 2, "images", "waiting", "role", "content", "sha256", "mime",
                                   "width", "height", "source_width", "notes", "label", "data", "version", "system"]),
                  min_size=1, max_size=4)


def _poke(doc, path, value):
    """Replace what `path` leads to in `doc` (as far as it leads) by `value`."""
    target = doc
    for step in path[:-1]:
        if isinstance(target, dict) and step in target:
            target = target[step]
        elif isinstance(target, list) and isinstance(step, int) and step < len(target):
            target = target[step]
        elif isinstance(target, dict) and step == "images" and "images" in target:
            target = target["images"]
    last = path[-1]
    if isinstance(target, dict):
        target[last if isinstance(last, str) else first_key(target)] = value
    elif isinstance(target, list) and target:
        target[last % len(target) if isinstance(last, int) else 0] = value


def first_key(mapping: dict):
    return next(iter(mapping), "x")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_PATHS, _JSON), min_size=1, max_size=3))
def test_fuzzed_json_loads_or_is_one_input_error(pokes):
    doc = document()
    for path, value in pokes:
        _poke(doc, path, value)
    _loads_or_says_why(lambda: from_json(json.dumps(doc)))


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_fuzzed_markdown_loads_or_is_one_input_error(data):
    text = to_markdown(sample())
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 40))
        insert = data.draw(st.sampled_from(["", "\r\n", "<!-- mcv:user chars=3 -->\n", "{", "]", "image-2", "x", "\n---\n"]))
        text = text[:at] + insert + text[at + cut :]
    _loads_or_says_why(lambda: from_markdown(text))


def _loads_or_says_why(reading) -> None:
    from mcv.cli.render.preview import Previewer

    try:
        transcript = reading()
    except InputError as err:
        assert err.message and "\n" not in err.message
        return
    assert isinstance(transcript, Transcript)
    assert transcript.system is None or isinstance(transcript.system, str)
    images = [*transcript.pending, *(image for m in transcript.messages for image in m.images)]
    for image in images:
        assert image.data and image.mime in ("image/jpeg", "image/png") and image.width > 0 and image.height > 0
        Previewer.show(_QuietPreviewer(), image)  # a thumbnail never raises


class _QuietPreviewer:
    """Previewer.show's inputs without a terminal: it decodes, and would draw with a null renderable."""

    enabled = True
    notes: list

    def __init__(self):
        self.notes = []
        self.env = self

    def note(self, text):
        self.notes.append(text)

    def _image_class(self):
        return lambda picture, **kw: picture

    def console(self):
        return self

    width = 40

    def print(self, *args, **kwargs):
        pass


def test_what_is_not_a_regular_file_of_a_sane_size_is_refused_without_reading_it(tmp_path):
    import os
    from types import SimpleNamespace

    from mcv.core import transcript
    from mcv.core.transcript import save
    from mcv.errors import UsageError

    with pytest.raises(InputError, match="^/dev/zero is not a regular file"):  # a read that would never end
        load("/dev/zero")
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="fifo is not a regular file"):  # no writer: opening would wait forever
        load(tmp_path / "fifo")
    with pytest.raises(UsageError, match="fifo is not a regular file"):  # nor replaced by /save
        save(SimpleNamespace(system=None, messages=[], pending=[]), tmp_path / "fifo", model="m")
    assert (tmp_path / "fifo").is_fifo()
    with open(tmp_path / "huge.md", "wb") as file:
        file.truncate(transcript.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(InputError, match=r"huge\.md is too large for a saved chat \(537 MB"):
        load(tmp_path / "huge.md")
