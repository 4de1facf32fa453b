"""Prefix bookkeeping: which keys are reusable, what is left to evaluate."""

from __future__ import annotations

from mcv.core.backends.llama.native import ImagePiece, TextPiece
from mcv.core.backends.llama.kv_cache import (
    CacheRecord,
    ImageWork,
    TextWork,
    common_prefix,
    piece_keys,
    work_after,
)

IMG = ImagePiece("abc", n_pos=96, n_tokens=96, chunk_index=1)
PIECES = [TextPiece((1, 2, 3)), IMG, TextPiece((4, 5))]


def record_of(pieces) -> CacheRecord:
    record = CacheRecord()
    for piece in pieces:
        if isinstance(piece, TextPiece):
            record.add_tokens(piece.tokens)
        else:
            record.add_image(piece, record.position + piece.n_pos)
    return record


def test_keys_and_positions():
    record = record_of(PIECES)
    assert piece_keys(PIECES) == [1, 2, 3, ("image", "abc", 96), 4, 5]
    assert record.ends == [1, 2, 3, 99, 100, 101]
    assert record.position_after(4) == 99
    assert record.image_ids() == {"abc"}


def test_common_prefix_stops_at_first_difference():
    assert common_prefix([1, 2, 3], [1, 2, 4, 5]) == 2
    assert common_prefix([], [1]) == 0


def test_identical_prompt_still_reevaluates_its_last_token():
    record = record_of(PIECES)
    assert record.reusable(piece_keys(PIECES)) == len(piece_keys(PIECES)) - 1


def test_longer_prompt_reuses_everything_cached():
    record = record_of(PIECES)
    longer = PIECES + [TextPiece((6, 7))]
    assert record.reusable(piece_keys(longer)) == 6


def test_changed_image_falls_back_to_before_it():
    record = record_of(PIECES)
    other = [TextPiece((1, 2, 3)), ImagePiece("def", 96, 96, 1), TextPiece((4, 5))]
    assert record.reusable(piece_keys(other)) == 3


def test_prompt_ending_in_an_image_steps_back_to_text():
    pieces = [TextPiece((1, 2)), IMG]
    record = record_of(pieces)
    assert record.reusable(piece_keys(pieces)) == 1


def test_work_after_splits_a_text_piece():
    assert work_after(PIECES, 2) == [TextWork((3,)), ImageWork(IMG), TextWork((4, 5))]
    assert work_after(PIECES, 4) == [TextWork((4, 5))]
    assert work_after(PIECES, 5) == [TextWork((5,))]


def test_truncate_drops_keys_and_positions():
    record = record_of(PIECES)
    record.truncate(3)
    assert record.keys == [1, 2, 3] and record.position == 3
    record.clear()
    assert record.position == 0
