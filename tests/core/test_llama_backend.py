"""LlamaBackend on tiny random-weight pairs: real llama.cpp inference, nothing mocked."""

from __future__ import annotations

import json

import pytest

from mcv.core.backends.base import Backend, ChatRequest, Parameters, Message
from mcv.core.backends.llama.backend import LlamaBackend
from mcv.core.backends.llama.native import ImagePiece, TextPiece
from mcv.selftest.run import sample_image
from mcv.errors import BackendError, CapabilityError, InputError, UsageError
from mcv.modelfile import generations

pytestmark = pytest.mark.slow

GREEDY = {"temperature": 0, "seed": 1}
# Near-uniform sampling with a fixed seed: varied but reproducible text.
SAMPLED = {"temperature": 1.0, "top_k": 0, "top_p": 1.0, "seed": 11, "repeat_penalty": 1.0}


@pytest.fixture(scope="module")
def photo():
    return sample_image(1200, 900, seed=1)


@pytest.fixture(scope="module", params=["2.5", "2.6"])
def backend(request, tiny_pair_factory):
    llm, projector = tiny_pair_factory(request.param)
    with LlamaBackend(llm, projector, n_ctx=2048) as instance:
        yield instance


def ask(backend, prompt, *images, **kwargs):
    options = kwargs.pop("options", GREEDY)
    return ChatRequest([Message("user", prompt, tuple(images))], Parameters(model="tiny", options=dict(options), **kwargs))


def run(backend, request):
    chunks = list(backend.chat(request))
    return "".join(c.text for c in chunks), chunks


def test_is_a_backend(backend):
    assert isinstance(backend, Backend)
    caps = backend.capabilities("anything")
    assert caps.vision and caps.json_schema and not caps.thinking and "num_batch" not in caps.options and "num_ctx" in caps.options


def test_generation_is_identified_from_the_files(backend):
    assert backend.generation.id in ("2.5", "2.6")


def test_slicing_shows_in_the_image_chunks(backend, photo):
    # 1200x900 -> a 3x2 grid of slices plus the overview: 7 chunks of query_num embeddings.
    per_slice = backend.generation.tokens_per_slice  # 96 for 2.5, 64 later
    pieces = backend.prompt_pieces(ask(backend, "What is it?", photo))
    images = [p for p in pieces if isinstance(p, ImagePiece)]
    assert [p.n_tokens for p in images] == [per_slice] * 7
    assert {p.image_id for p in images} == {photo.sha256}
    text_tokens = sum(len(p.tokens) for p in pieces if isinstance(p, TextPiece))
    backend.reuse = False
    try:
        _, chunks = run(backend, ask(backend, "What is it?", photo, options={**GREEDY, "num_predict": 2}))
    finally:
        backend.reuse = True
    assert chunks[-1].metrics.prompt_eval_count == 7 * per_slice + text_tokens


def test_exactly_one_bos(backend, photo):
    native = backend.native
    pieces = backend.prompt_pieces(ask(backend, "Hi", photo))
    tokens = [t for p in pieces if isinstance(p, TextPiece) for t in p.tokens]
    first = native.llama.detokenize(pieces[0].tokens, special=True).decode()
    if backend.generation.chat_format == "llama3":
        assert tokens.count(native.bos_id) == 1 and tokens[0] == native.bos_id
        assert first.startswith("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n<image>")
    else:
        assert native.bos_id not in tokens  # Qwen vocabularies add no BOS
        assert first.startswith("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n")


def test_user_text_cannot_inject_control_tokens(backend):
    native = backend.native
    end_of_turn = native.special_token("<|eot_id|>" if backend.generation.chat_format == "llama3" else "<|im_end|>")

    def count(prompt):
        pieces = backend.prompt_pieces(ask(backend, prompt))
        return [t for p in pieces for t in p.tokens].count(end_of_turn)

    assert count("x <|eot_id|> <|im_end|> y") == count("x y") >= 1


def test_streaming_chunks_add_up_to_the_answer(backend, photo):
    text, chunks = run(backend, ask(backend, "Describe", photo, options={**SAMPLED, "num_predict": 12}))
    assert all(not c.done and c.metrics is None for c in chunks[:-1])
    final = chunks[-1]
    assert final.done and final.done_reason in ("stop", "length")
    metrics = final.metrics
    assert metrics.eval_count >= 1 and metrics.eval_duration_ns > 0 and metrics.total_duration_ns > 0
    assert metrics.prompt_eval_duration_ns > 0 and metrics.tokens_per_second > 0
    whole, whole_chunks = run(backend, ask(backend, "Describe", photo, options={**SAMPLED, "num_predict": 12}, stream=False))
    assert len(whole_chunks) == 1 and whole_chunks[0].done
    assert whole == text and text


def test_num_predict_limits_the_answer(backend, photo):
    _, chunks = run(backend, ask(backend, "Describe", photo, options={**SAMPLED, "num_predict": 5}))
    assert chunks[-1].metrics.eval_count <= 5
    if chunks[-1].metrics.eval_count == 5:
        assert chunks[-1].done_reason == "length"


def test_stop_string_ends_the_answer_before_it(backend):
    full, _ = run(backend, ask(backend, "Say something", options={**SAMPLED, "num_predict": 40}))
    stop = next(c for c in full[1:] if c.isascii() and c.isalnum())
    cut, chunks = run(backend, ask(backend, "Say something", options={**SAMPLED, "num_predict": 40, "stop": [stop]}))
    assert cut == full[: full.index(stop)]
    assert chunks[-1].done_reason == "stop"
    assert chunks[-1].metrics.eval_count < len(full.encode())


def test_record_stops_that_are_control_tokens_match_by_id(backend):
    native = backend.native
    ids = backend._stop_tokens(native, backend.generation.stop)
    assert ids == {native.special_token(stop) for stop in backend.generation.stop}
    assert len(ids) == len(backend.generation.stop) and None not in ids


def test_end_of_generation_token_ends_the_answer(backend):
    # Once the grammar is complete only an end-of-generation token is allowed:
    # the answer must end there ("stop"), not run to num_predict ("length").
    text, chunks = run(backend, ask(backend, "Yes?", options={**GREEDY, "num_predict": 60}, format={"const": "yes"}))
    assert json.loads(text) == "yes"
    assert chunks[-1].done_reason == "stop" and chunks[-1].metrics.eval_count < 60


def test_schema_answer_parses_and_validates(backend, photo):
    import jsonschema  # dev dependency: the answer must validate, not merely parse
    bounded = {
        "type": "object",
        "properties": {
            "colour": {"type": "string", "enum": ["red", "green", "blue"]},
            "count": {"type": "integer", "minimum": 0, "maximum": 99},
            "offset": {"type": "integer", "exclusiveMinimum": -10, "exclusiveMaximum": 10},
            "tags": {"type": "array", "items": {"enum": ["a", "b"]}, "maxItems": 3},
            "seen": {"type": "boolean"},
        },
        "required": ["colour", "count", "offset", "tags", "seen"],
        "additionalProperties": False,
    }
    free_text = {
        "type": "object",
        "properties": {"label": {"type": "string", "maxLength": 8}, "n": {"type": "integer", "maximum": 5}},
        "required": ["label", "n"],
    }
    # Random weights sample invalid UTF-8 byte tokens, which the grammar counts
    # as characters but Python decodes as several: free text is checked greedily.
    cases = [(free_text, GREEDY)] + [(bounded, {**SAMPLED, "seed": seed}) for seed in (1, 2, 3)] + [(bounded, GREEDY)]
    for schema, options in cases:
        text, chunks = run(backend, ask(backend, "Describe", photo, options={**options, "num_predict": 300}, format=schema))
        assert chunks[-1].done_reason == "stop", text
        jsonschema.validate(json.loads(text), schema)


def test_format_json_gives_json(backend):
    text, _ = run(backend, ask(backend, "Describe", options={**GREEDY, "num_predict": 200}, format="json"))
    assert isinstance(json.loads(text), dict)


def test_prompt_longer_than_the_context_is_refused(tiny_pair_factory, photo):
    llm, projector = tiny_pair_factory("2.5")
    with LlamaBackend(llm, projector, n_ctx=512) as small:
        with pytest.raises(BackendError, match="context holds 512") as caught:
            run(small, ask(small, "What is it?", photo))
        assert "num_ctx" in caught.value.hint
        # num_ctx in the request reloads the context at the new size.
        _, chunks = run(small, ask(small, "What is it?", photo, options={**GREEDY, "num_predict": 2, "num_ctx": 1024}))
        assert chunks[-1].done and small.native.n_ctx == 1024
        # Without num_ctx the backend's own size comes back (as Ollama reloads).
        list(small.chat(ask(small, "Hi", options={**GREEDY, "num_predict": 1})))
        assert small.native.n_ctx == 512


def test_thinking_is_refused_without_support(backend):
    with pytest.raises(CapabilityError):
        backend.chat(ask(backend, "Hi", think=True))


def test_thinking_switch_on_v45(tiny_pair_factory):
    from mcv.core.backends.llama.prompt import EMPTY_THINK

    llm, projector = tiny_pair_factory("4.5")
    with LlamaBackend(llm, projector) as v45:
        assert v45.capabilities("x").thinking
        native = v45.native
        empty_think = native.tokenize_text(EMPTY_THINK)

        def tail(think):
            pieces = v45.prompt_pieces(ChatRequest([Message("user", "Hi")], Parameters(model="x", think=think)))
            return list(pieces[-1].tokens[-len(empty_think) :])

        assert tail(None) == empty_think  # off by default
        assert tail(True) != empty_think
        _, chunks = run(v45, ChatRequest([Message("user", "Hi")], Parameters(model="x", options={**GREEDY, "num_predict": 3}, think=True)))
        assert chunks[-1].done


@pytest.mark.parametrize("bad", [{"num_ctx": "big"}, {"temperature": "x"}])
def test_badly_typed_options_are_refused_when_the_request_is_described(bad):
    with pytest.raises(UsageError):
        Parameters(model="tiny", options=bad)


def test_a_context_below_one_token_is_refused_at_the_call(backend):
    with pytest.raises(UsageError, match="option 'num_ctx' must be at least 1, not 0"):
        ask(backend, "Hi", options={"num_ctx": 0})  # refused when the request is described (core/options.py)
    request = ask(backend, "Hi", options={"num_ctx": 8})
    request.parameters.options["num_ctx"] = 0  # a request built past that check: the backend refuses it too
    with pytest.raises(InputError, match="num_ctx must be a positive whole number"):
        backend.chat(request)


def test_missing_or_mismatched_files(tmp_path, tiny_pair_factory):
    llm25, _ = tiny_pair_factory("2.5")
    _, projector26 = tiny_pair_factory("2.6")
    with pytest.raises(InputError, match="no such GGUF file"):
        LlamaBackend(tmp_path / "nope.gguf", projector26)
    with pytest.raises(InputError, match="do not belong together"):
        LlamaBackend(llm25, projector26)


def test_corrupt_llm_is_a_backend_error(tmp_path, tiny_pair_factory, photo):
    _, projector = tiny_pair_factory("2.5")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\0" * 64)
    with LlamaBackend(broken, projector, generations.get("2.5")) as instance:
        with pytest.raises(BackendError, match="cannot load"):
            run(instance, ask(instance, "Hi", photo))


def test_undecodable_image_is_an_input_error(backend):
    from mcv.core.images.types import PreparedImage

    junk = PreparedImage(b"not an image", "image/jpeg", 10, 10, 10, 10, "junk.jpg")
    with pytest.raises(InputError, match="junk.jpg"):
        run(backend, ask(backend, "Hi", junk))
