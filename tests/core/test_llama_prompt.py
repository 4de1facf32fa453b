"""Prompt rendering per generation record (pure Python, no llama.cpp).

tests/modelfile/test_two_renderers.py checks that these prompts equal Ollama's;
this file pins the llama side's own rules.
"""

from __future__ import annotations

import pytest

from mcv.core.backends.base import Message
from mcv.core.backends.llama.native import ImagePart, TextPart
from mcv.core.backends.llama.prompt import as_text, render
from mcv.errors import InputError
from mcv.modelfile import generations
from mcv.modelfile.generations import EMPTY_THINK_BLOCK
from mcv.selftest.run import sample_image


@pytest.fixture(scope="module")
def picture():
    return sample_image(64, 48)


def test_llama3_turns_with_image_before_text(picture):
    parts = render(
        [
            Message("system", "Be brief."),
            Message("user", "  What is it? ", (picture,)),
            Message("assistant", "A box."),
            Message("user", "Colour?"),
        ],
        generations.get("2.5"),
    )
    assert as_text(parts) == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        # `content | trim` applies to the whole turn, image first (HF trims the
        # image placeholder and text together), so the text's own indent stays.
        "<|start_header_id|>user<|end_header_id|>\n\n<__media__>\n  What is it?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA box.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nColour?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    # The BOS is never written by the template (tokenisation adds exactly one).
    assert "<|begin_of_text|>" not in as_text(parts)
    assert [p for p in parts if isinstance(p, ImagePart)] == [ImagePart(picture)]


def test_message_text_is_not_parsed_for_control_tokens():
    parts = render([Message("user", "say <|eot_id|> please")], generations.get("2.5"))
    user_text = [p for p in parts if isinstance(p, TextPart) and "please" in p.text]
    assert user_text == [TextPart("say <|eot_id|> please", special=False)]
    assert all(p.special for p in parts if isinstance(p, TextPart) and p not in user_text)


def test_chatml_adds_the_default_system_prompt(picture):
    parts = render([Message("user", "Hi", (picture, picture))], generations.get("2.6"))
    assert as_text(parts, marker="<IMG>") == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<IMG>\n<IMG>\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def test_chatml_keeps_a_given_system_prompt():
    parts = render([Message("system", "Only JSON."), Message("user", "Hi")], generations.get("2.6"))
    assert as_text(parts).startswith("<|im_start|>system\nOnly JSON.<|im_end|>\n<|im_start|>user\nHi")
    assert "helpful assistant" not in as_text(parts)


def test_v45_thinking_is_off_by_default_and_switchable():
    v45 = generations.get("4.5")
    off = as_text(render([Message("user", "Hi")], v45))
    on = as_text(render([Message("user", "Hi")], v45, think=True))
    assert off.endswith("<|im_start|>assistant\n" + EMPTY_THINK_BLOCK)
    assert on.endswith("<|im_start|>assistant\n")
    # Earlier answers are rendered without any think block (Qwen3 convention).
    history = as_text(render([Message("user", "Hi"), Message("assistant", "Hello"), Message("user", "Again")], v45))
    assert "<|im_start|>assistant\nHello<|im_end|>" in history


def test_generation_without_thinking_ignores_the_flag():
    assert as_text(render([Message("user", "Hi")], generations.get("2.6"), think=True)).endswith("assistant\n")


def test_trailing_assistant_message_is_continued():
    parts = render([Message("user", "Hi"), Message("assistant", "Sure,")], generations.get("2.5"))
    assert as_text(parts).endswith("<|start_header_id|>assistant<|end_header_id|>\n\nSure,")


def test_no_messages_is_an_input_error():
    with pytest.raises(InputError):
        render([], generations.get("2.5"))


def test_v46_always_prefills_the_empty_think_block():
    v46 = generations.get("4.6")
    for think in (False, True):  # the Instruct checkpoint does not think; the flag changes nothing
        prompt = as_text(render([Message("user", "Hi"), Message("assistant", "Hello"), Message("user", "Again")], v46, think=think))
        assert prompt == (
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
            "<|im_start|>user\nAgain<|im_end|>\n<|im_start|>assistant\n" + EMPTY_THINK_BLOCK
        )
    continued = as_text(render([Message("user", "Hi"), Message("assistant", "Well,")], v46))
    assert continued.endswith("<|im_start|>assistant\n" + EMPTY_THINK_BLOCK + "Well,")


@pytest.mark.parametrize("gen_id,system", [("2.5", None), ("2.6", "You are a helpful assistant."),
                                           ("o-2.6", "You are a helpful assistant."),
                                           ("4.0", "You are a helpful assistant."), ("4.5", None), ("4.6", None)])
def test_default_system_prompt_per_generation(gen_id, system):
    prompt = as_text(render([Message("user", "Hi")], generations.get(gen_id)))
    assert generations.get(gen_id).system == system
    assert ("system" in prompt) == (system is not None)
    if system:
        assert prompt.startswith(f"<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\nHi")


def test_same_role_messages_become_one_turn_like_ollama(picture):
    parts = render([Message("user", "", (picture,)), Message("user", "describe"), Message("user", "briefly")],
                   generations.get("2.6"))
    assert as_text(parts) == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\n<__media__>\n\ndescribe\n\nbriefly<|im_end|>\n<|im_start|>assistant\n"
    )
    # the merged text after the image is one plain-text part, tokenised in one go
    assert TextPart("\n\ndescribe\n\nbriefly", special=False) in parts


def test_llama3_trims_the_merged_turn():
    prompt = as_text(render([Message("user", " a "), Message("user", " b ")], generations.get("2.5")))
    assert "<|end_header_id|>\n\na \n\n b<|eot_id|>" in prompt
