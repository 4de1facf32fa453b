"""Streaming text: UTF-8 across tokens, stop strings across tokens, think blocks."""

from __future__ import annotations

from mcv.core.backends.llama.output import AnswerStream, StopFilter, ThinkSplitter


def feed_all(stream, pieces):
    out = [stream.feed(p) for p in pieces]
    return out, stream.finish()


def test_utf8_split_over_tokens_is_reassembled():
    data = "héllo wörld".encode()
    stream = StopFilter([])
    out, rest = feed_all(stream, [data[i : i + 1] for i in range(len(data))])
    assert "".join(out) + rest == "héllo wörld"


def test_stop_string_split_over_tokens_is_withheld_and_dropped():
    stream = StopFilter(["<END>"])
    out, rest = feed_all(stream, [b"ab<E", b"N", b"D>never"])
    assert out == ["ab", "", ""]
    assert rest == "" and stream.stopped


def test_text_resembling_a_stop_prefix_is_released_when_it_diverges():
    stream = StopFilter(["<END>"])
    out, rest = feed_all(stream, [b"a<E", b"X"])
    assert "".join(out) + rest == "a<EX"
    assert not stream.stopped


def test_earliest_of_several_stops_wins():
    stream = StopFilter(["zz", "b"])
    assert stream.feed(b"abczz") == "a"


def test_think_block_goes_to_thinking():
    splitter = ThinkSplitter()
    pieces = ["<thi", "nk>\nlet me ", "see</th", "ink>\n\nIt is ", "red."]
    results = [splitter.feed(p) for p in pieces] + [splitter.finish()]
    answer = "".join(a for a, _ in results)
    thinking = "".join(t for _, t in results)
    assert answer == "It is red."
    assert thinking == "\nlet me see"


def test_answer_without_think_tag_is_all_answer():
    splitter = ThinkSplitter()
    results = [splitter.feed(p) for p in ["It ", "is red."]] + [splitter.finish()]
    assert "".join(a for a, _ in results) == "It is red."
    assert all(t == "" for _, t in results)


def test_answer_stream_combines_stops_and_thinking():
    stream = AnswerStream(["STOP"], thinking=True)
    results = [stream.feed(p) for p in [b"<think>hm</think>", b"Yes", b" STOP no"]] + [stream.finish()]
    assert "".join(a for a, _ in results) == "Yes "
    assert "".join(t for _, t in results) == "hm"
    assert stream.stopped
