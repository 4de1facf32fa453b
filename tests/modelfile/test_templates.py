"""Every TEMPLATE rendered by Go's text/template the way Ollama builds a chat
prompt (gotmpl/main.go via the `ollama_prompt` fixture in conftest.py).

Checks the exact prompt text per chat format, the Modelfile SYSTEM default,
Ollama's message collation and image markers, a trailing assistant message
left open, that no image tokens appear, and that only 4.5 exposes thinking
tags (4.6 prefills its empty think block whatever `think` says).
"""

from __future__ import annotations

import pytest

from mcv.modelfile import generations
from mcv.modelfile.generations import EMPTY_THINK_BLOCK

CHAT = [
    {"role": "system", "content": "SYS"},
    {"role": "user", "content": "What is this?", "images": 1},
    {"role": "assistant", "content": "A cat."},
    {"role": "user", "content": "Colour?"},
]
CHATML_CHAT = (
    "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n[img-0]What is this?<|im_end|>\n"
    "<|im_start|>assistant\nA cat.<|im_end|>\n<|im_start|>user\nColour?<|im_end|>\n<|im_start|>assistant\n"
)


def test_llama3_prompt(ollama_prompt):
    prompt, tags = ollama_prompt(generations.get("2.5").ollama_template, CHAT)
    assert prompt == (
        "<|start_header_id|>system<|end_header_id|>\n\nSYS<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n[img-0]What is this?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA cat.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nColour?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert tags == ("", "")


@pytest.mark.parametrize("gen_id", ["2.6", "o-2.6", "4.0"])
def test_chatml_prompt(ollama_prompt, gen_id):
    prompt, tags = ollama_prompt(generations.get(gen_id).ollama_template, CHAT)
    assert prompt == CHATML_CHAT
    assert tags == ("", "")


def test_v46_prefills_the_empty_think_block_and_claims_no_thinking(ollama_prompt):
    template = generations.get("4.6").ollama_template
    prompt, tags = ollama_prompt(template, CHAT)
    # Earlier answers carry no think block; the new one opens with the empty one.
    assert prompt == CHATML_CHAT + EMPTY_THINK_BLOCK
    # No thinking tags: Ollama gives 4.6 no "thinking" capability from this
    # TEMPLATE, so `think` stays false and a think:true request is refused.
    assert tags == ("", "")
    assert ollama_prompt(template, CHAT, think=False)[0] == prompt
    continued, _ = ollama_prompt(template, [*CHAT, {"role": "assistant", "content": "It is"}])
    assert continued == CHATML_CHAT + EMPTY_THINK_BLOCK + "It is"


@pytest.mark.parametrize("gen_id", ["2.5", "2.6", "4.6"])
def test_modelfile_system_applies_only_without_a_system_message(ollama_prompt, gen_id):
    gen = generations.get(gen_id)
    bare, _ = ollama_prompt(gen.ollama_template, CHAT[1:], system="DEFAULT")
    given, _ = ollama_prompt(gen.ollama_template, CHAT, system="DEFAULT")
    assert "DEFAULT" in bare and bare.endswith(ollama_prompt(gen.ollama_template, CHAT[1:])[0])
    assert "DEFAULT" not in given and "SYS" in given


def test_consecutive_user_messages_are_merged(ollama_prompt):
    prompt, _ = ollama_prompt(generations.get("2.6").ollama_template,
                              [{"role": "user", "content": "", "images": 1}, {"role": "user", "content": "describe"}])
    assert prompt == "<|im_start|>user\n[img-0]\n\ndescribe<|im_end|>\n<|im_start|>assistant\n"


def test_image_placeholders_are_replaced_in_place(ollama_prompt):
    template = generations.get("2.6").ollama_template
    placed, _ = ollama_prompt(template, [{"role": "user", "content": "[img]\n[img]\nBoth?", "images": 2}])
    assert placed == "<|im_start|>user\n[img-0]\n[img-1]\nBoth?<|im_end|>\n<|im_start|>assistant\n"
    glued, _ = ollama_prompt(template, [{"role": "user", "content": "Both?", "images": 2}])
    assert glued == "<|im_start|>user\n[img-0][img-1]Both?<|im_end|>\n<|im_start|>assistant\n"


@pytest.mark.parametrize("gen_id", ["2.5", "2.6"])
def test_trailing_assistant_message_stays_open(ollama_prompt, gen_id):
    prompt, _ = ollama_prompt(generations.get(gen_id).ollama_template,
                              [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure,"}])
    header = "<|start_header_id|>assistant<|end_header_id|>\n\n" if gen_id == "2.5" else "<|im_start|>assistant\n"
    assert prompt.endswith(header + "Sure,")
    assert prompt.count(header) == 1


def test_qwen3_hybrid_thinking_switch(ollama_prompt):
    template = generations.get("4.5").ollama_template
    off, tags = ollama_prompt(template, CHAT, think=False)
    assert off == CHATML_CHAT + EMPTY_THINK_BLOCK
    assert tags == ("<think>", "</think>")  # Ollama gives the model the thinking capability
    on, _ = ollama_prompt(template, CHAT, think=True)
    assert on == CHATML_CHAT
    # Ollama turns thinking on for a thinking-capable model when `think` is left
    # out (server/routes.go ChatHandler), so mcv always sends it for 4.5.
    unset, _ = ollama_prompt(template, CHAT, think=None)
    assert unset == on
    # a trailing assistant message (prefill) keeps its thinking and stays open
    prefill, _ = ollama_prompt(template, [*CHAT, {"role": "assistant", "content": "Or", "thinking": "hmm"}], think=True)
    assert prefill == CHATML_CHAT + "<think>hmm</think>\n\nOr"


@pytest.mark.parametrize("gen", generations.GENERATIONS, ids=lambda g: g.id)
def test_no_image_tokens_rendered(ollama_prompt, gen):
    prompt, _ = ollama_prompt(gen.ollama_template, CHAT, think=False)
    for token in ("<image>", "<slice>", "<image_id>", "<|begin_of_text|>"):
        assert token not in prompt
