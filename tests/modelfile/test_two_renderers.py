"""One conversation, one prompt: Ollama (the record's Modelfile TEMPLATE) and
the llama backend (prompt.py) must build the same text.

For every supported generation and every conversation below the prompt is
built twice:

- Ollama: mcv's Ollama backend turns the conversation into /api/chat messages
  (`build_chat_payload`); gotmpl/main.go then does what Ollama's ChatHandler
  does with them and the record's TEMPLATE and SYSTEM (default system, image
  markers, same-role collation, think default; see its header);
- llama backend: `prompt.render` with the same record, shown with `as_text`.

Images, mapped to one marker. Ollama writes `[img-N]`, N counting the images
across the request, and its runner swaps each marker for llama-server's media
marker and sends the images in that order (ollama/ollama llm/llama_server.go,
"replace Ollama's stable [img-N] markers"). prompt.py yields one ImagePart per
image, which mtmd tokenises exactly where a media marker would be
(native.NativeModel.tokenize). Both become `<image k>`, k the image's position
in the conversation, so the comparison checks placement and order. Both lay a
message out as MiniCPM-V's chat() does, each image before the text and the
pieces joined with "\\n" (generations.lay_out_message); Ollama does that only
when the message carries "[img]" placeholders (generations.ollama_message_content),
otherwise it glues the markers to the front of the text.

BOS: neither writes `<|begin_of_text|>`; the tokeniser adds it once on both
paths (native.tokenize, llama-server's tokenisation of Ollama's prompt).

Trim: Llama-3-Instruct trims each message (`content | trim`); prompt.py does,
a Go TEMPLATE cannot (no trim in text/template or Ollama's FuncMap). The
conversations therefore carry no outer whitespace, and
test_llama3_trim_is_the_one_known_difference pins what differs when they do.
"""

from __future__ import annotations

import re

import pytest

from mcv.core.backends.base import ChatRequest, Message, Parameters
from mcv.core.backends.llama.native import ImagePart, TextPart
from mcv.core.backends.llama.prompt import render
from mcv.core.backends.ollama import build_chat_payload
from mcv.modelfile import generations
from mcv.modelfile.generations import EMPTY_THINK_BLOCK
from mcv.selftest.run import sample_image

PICTURES = [sample_image(64, 48, seed=seed) for seed in range(3)]

CONVERSATIONS = {
    "system prompt": [Message("system", "Be brief."), Message("user", "What is this?")],
    "no system prompt": [Message("user", "Hi")],
    "several turns": [
        Message("user", "Hi"), Message("assistant", "Hello."),
        Message("user", "Name a colour."), Message("assistant", "Blue."),
        Message("user", "Another?"),
    ],
    "same-role runs": [
        Message("system", "Be brief."), Message("system", "Answer in English."),
        Message("user", "First part."), Message("user", "Second part."),
        Message("assistant", "Noted."), Message("assistant", "Go on."),
        Message("user", "Done."),
    ],
    "images": [
        Message("user", "Compare them.", (PICTURES[0], PICTURES[1])),
        Message("assistant", "They differ."),
        Message("user", "And this one?", (PICTURES[2],)),
    ],
    "image, then text in its own message": [Message("user", "", (PICTURES[0],)), Message("user", "Describe it.")],
    "continued answer": [Message("user", "Hi"), Message("assistant", "Sure,")],
}


def ollama_messages(messages) -> list[dict]:
    """The /api/chat messages mcv's Ollama backend sends, images as a count."""
    payload = build_chat_payload(ChatRequest(messages=tuple(messages), parameters=Parameters(model="m")))
    return [{**entry, "images": len(entry.get("images", ()))} for entry in payload["messages"]]


def via_ollama(ollama_prompt, gen, messages, think: bool) -> str:
    prompt, _ = ollama_prompt(gen.ollama_template, ollama_messages(messages), think=think, system=gen.system or "")
    return re.sub(r"\[img-(\d+)\]", lambda m: f"<image {m.group(1)}>", prompt)


def via_llama(gen, messages, think: bool) -> str:
    pieces, images = [], 0
    for part in render(messages, gen, think=think):
        if isinstance(part, ImagePart):
            pieces.append(f"<image {images}>")
            images += 1
        else:
            pieces.append(part.text)
    return "".join(pieces)


def cases() -> list:
    return [
        pytest.param(gen, name, think, id=f"{gen.id}-{name}-think={think}")
        for gen in generations.SUPPORTED
        for think in ((False, True) if gen.thinking != "none" else (False,))
        for name in CONVERSATIONS
    ]


@pytest.mark.parametrize("gen,name,think", cases())
def test_same_prompt_on_both_engines(ollama_prompt, gen, name, think):
    messages = CONVERSATIONS[name]
    llama = via_llama(gen, messages, think)
    assert via_ollama(ollama_prompt, gen, messages, think) == llama
    assert "<|begin_of_text|>" not in llama


@pytest.mark.parametrize("gen", generations.SUPPORTED, ids=lambda g: g.id)
def test_default_system_and_answer_opening_follow_the_record(gen):
    """What the shared prompt contains, so agreeing on a wrong prompt fails too."""
    prompt = via_llama(gen, CONVERSATIONS["no system prompt"], think=False)
    if gen.system:
        assert gen.system in prompt
    else:
        assert "system" not in prompt
    opening = {"llama3": "<|start_header_id|>assistant<|end_header_id|>\n\n", "chatml": "<|im_start|>assistant\n"}
    expected_end = opening[gen.chat_format] + gen.answer_prefix
    if gen.thinking == "qwen3-hybrid":
        expected_end += EMPTY_THINK_BLOCK  # thinking off
    assert prompt.endswith(expected_end)
    assert prompt.count("<think>") == (1 if gen.id in ("4.5", "4.6") else 0)


def test_v46_history_has_no_think_blocks_but_the_new_answer_has():
    prompt = via_llama(generations.get("4.6"), CONVERSATIONS["several turns"], think=False)
    assert "<|im_start|>assistant\nHello.<|im_end|>" in prompt
    assert prompt.endswith("<|im_start|>user\nAnother?<|im_end|>\n<|im_start|>assistant\n" + EMPTY_THINK_BLOCK)


def test_images_come_before_their_text_one_per_line():
    prompt = via_llama(generations.get("2.6"), CONVERSATIONS["images"], think=False)
    assert "<|im_start|>user\n<image 0>\n<image 1>\nCompare them.<|im_end|>" in prompt
    assert "<|im_start|>user\n<image 2>\nAnd this one?<|im_end|>" in prompt


def test_llama3_trim_is_the_one_known_difference(ollama_prompt):
    gen = generations.get("2.5")
    padded = [Message("user", "  Hi there \n")]
    header = "<|start_header_id|>user<|end_header_id|>\n\n"
    assert header + "Hi there<|eot_id|>" in via_llama(gen, padded, think=False)
    assert header + "  Hi there \n<|eot_id|>" in via_ollama(ollama_prompt, gen, padded, think=False)
    # Text parts keep control tokens out of user text on the llama side.
    parts = render([Message("user", "say <|eot_id|>")], gen)
    assert TextPart("say <|eot_id|>", special=False) in parts
