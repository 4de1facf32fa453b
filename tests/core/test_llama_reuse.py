"""Prefix reuse: a cached conversation evaluates only its new tail and answers
exactly as a fresh evaluation would (same logits, bit for bit; same greedy text)."""

from __future__ import annotations

import pytest

from mcv.core.backends.base import ChatRequest, Parameters, Message
from mcv.core.backends.llama.backend import LlamaBackend
from mcv.core.backends.llama.native import ImagePiece
from mcv.selftest.run import sample_image

pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0, "top_k": 1, "seed": 3}


@pytest.fixture(scope="module")
def photo():
    return sample_image(1200, 900, seed=1)


@pytest.fixture(scope="module")
def other_photo():
    return sample_image(1000, 700, seed=2)


@pytest.fixture(params=["2.5", "2.6"])
def pair(request, tiny_pair_factory):
    return tiny_pair_factory(request.param)


@pytest.fixture
def cached_and_fresh(pair):
    cached = LlamaBackend(*pair, n_ctx=4096)
    fresh = LlamaBackend(*pair, n_ctx=4096)
    fresh.reuse = False
    yield cached, fresh
    cached.close()
    fresh.close()


def turn(backend, messages, **options):
    chunks = list(backend.chat(ChatRequest(list(messages), Parameters(model="tiny", options={**GREEDY, **options}))))
    return "".join(c.text for c in chunks), chunks[-1].metrics.prompt_eval_count, backend.native.last_logits()


def probe(backend, messages):
    """Evaluate the prompt and sample one token: the logits are the prompt's."""
    return turn(backend, messages, num_predict=1)


def image_tokens(backend, messages):
    pieces = backend.prompt_pieces(ChatRequest(list(messages), Parameters(model="tiny")))
    return sum(p.n_tokens for p in pieces if isinstance(p, ImagePiece))


def test_three_turns_about_one_image(cached_and_fresh, photo):
    cached, fresh = cached_and_fresh
    messages = [Message("user", "What is in the picture?", (photo,))]
    per_image = image_tokens(cached, messages)
    counts = []
    for number in range(3):
        cached_probe, fresh_probe = probe(cached, messages), probe(fresh, messages)
        assert cached_probe[2] == fresh_probe[2]  # identical logits
        counts.append((cached_probe[1], fresh_probe[1]))
        cached_answer, _, _ = turn(cached, messages, num_predict=12)
        fresh_answer, _, _ = turn(fresh, messages, num_predict=12)
        assert cached_answer == fresh_answer
        messages += [Message("assistant", cached_answer), Message("user", f"And detail number {number}?")]
    # Turn 1 evaluates everything; later turns only their new text, never the image again.
    assert counts[0][0] == counts[0][1] >= per_image
    for cached_count, fresh_count in counts[1:]:
        assert cached_count < per_image / 4
        assert fresh_count > per_image


def test_logits_depend_on_the_image(cached_and_fresh, photo, other_photo):
    # Guards the test above: equal logits mean something because they differ
    # as soon as the image differs.
    cached, _ = cached_and_fresh
    first = probe(cached, [Message("user", "What?", (photo,))])[2]
    second = probe(cached, [Message("user", "What?", (other_photo,))])[2]
    assert first != second


def prompt_length(backend, messages) -> int:
    return sum(len(p.tokens) for p in backend.prompt_pieces(ChatRequest(list(messages), Parameters(model="tiny"))))


def test_answer_tokens_in_the_cache_are_reused(cached_and_fresh):
    # A grammar pins the answer to '"yes"' (five byte tokens that re-tokenise
    # to the same ids), so the follow-up can reuse the answer's KV entries.
    cached, fresh = cached_and_fresh
    messages = [Message("user", "Answer yes.")]
    request = ChatRequest(messages, Parameters(model="tiny", options={**GREEDY, "num_predict": 30}, format={"const": "yes"}))
    answer = "".join(c.text for c in cached.chat(request))
    assert answer.strip() == '"yes"'
    follow_up = messages + [Message("assistant", answer), Message("user", "Sure?")]
    _, evaluated, cached_logits = turn(cached, follow_up, num_predict=1)
    _, fresh_evaluated, fresh_logits = turn(fresh, follow_up, num_predict=1)
    assert cached_logits == fresh_logits
    assert fresh_evaluated == prompt_length(cached, follow_up)
    assert evaluated <= fresh_evaluated - prompt_length(cached, messages) - len('"yes"')


def test_changed_image_falls_back_to_a_full_image_evaluation(cached_and_fresh, photo, other_photo):
    cached, fresh = cached_and_fresh
    messages = [Message("user", "What?", (photo,))]
    turn(cached, messages, num_predict=4)
    changed = [Message("user", "What?", (other_photo,)), Message("assistant", "x"), Message("user", "More?")]
    cached_probe, fresh_probe = probe(cached, changed), probe(fresh, changed)
    assert cached_probe[2] == fresh_probe[2]
    assert cached_probe[1] >= image_tokens(cached, changed)  # the new image was encoded


def test_edit_before_a_cached_image_re_encodes_it(cached_and_fresh, photo):
    # The image's chunks are first tokenised as placeholders (cached); the
    # edited system prompt puts them after the divergence, so the image must
    # be decoded and encoded again.
    cached, fresh = cached_and_fresh
    first = [Message("system", "Be brief."), Message("user", "What?", (photo,))]
    turn(cached, first, num_predict=4)
    edited = [Message("system", "Be verbose."), Message("user", "What?", (photo,)), Message("assistant", "x"), Message("user", "And?")]
    cached_probe, fresh_probe = probe(cached, edited), probe(fresh, edited)
    assert cached_probe[2] == fresh_probe[2]
    assert cached_probe[1] >= image_tokens(cached, edited)


def test_edited_earlier_answer_reuses_up_to_the_edit(cached_and_fresh, photo):
    cached, fresh = cached_and_fresh
    base = [Message("user", "What?", (photo,)), Message("assistant", "A box."), Message("user", "Colour?")]
    turn(cached, base, num_predict=4)
    edited = [base[0], Message("assistant", "A ball."), base[2]]
    cached_probe, fresh_probe = probe(cached, edited), probe(fresh, edited)
    assert cached_probe[2] == fresh_probe[2]
    assert cached_probe[1] < image_tokens(cached, edited)  # image kept, only the tail redone
