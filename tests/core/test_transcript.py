"""Saved chats: Markdown and JSON read back exactly, whatever the texts hold."""

from __future__ import annotations

import io

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
    damaged = to_json(sample()).replace('"sha256": "', '"sha256": "0', 1)
    with pytest.raises(InputError, match="do not match its sha256"):
        from_json(damaged)
    newer = to_markdown(sample()).replace("<!-- mcv-chat 1", "<!-- mcv-chat 9", 1)
    with pytest.raises(InputError, match="newer mcv"):
        from_markdown(newer)
