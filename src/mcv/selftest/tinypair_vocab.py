"""Tokenizer side of the tiny pairs: per-generation vocab recipes and chat templates.

Part of tinypair.py (split for size): `RECIPES[gen_id]` says which vocabulary
and tokenizer.chat_template a generation's LLM file carries; `vocab(recipe)`
builds it (byte tokens + chat specials + image tokens, merges or scores).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """Tokenizer/template facts of one generation's LLM file."""

    vocab: str  # "llama3" | "chatml" | "qwen3" | "spm"
    pre: str  # tokenizer.ggml.pre
    chat_template: str
    gen_name: str  # general.name
    image_id_tokens: bool  # <image_id> </image_id> (2.6 and later)
    query_num: int | None  # clip.minicpmv_query_num written (newer converters) or None


_LLAMA3_JINJA = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}"
    "{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
_QWEN2_JINJA = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
_CHATML_JINJA = (
    "{% for message in messages %}"
    "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Qwen3 hybrid thinking: enable_thinking=False prefills an empty think block.
_QWEN3_JINJA = (
    "{%- for message in messages %}"
    "{%- if message.role == 'assistant' and '</think>' in message.content %}"
    "{%- set content = message.content.split('</think>')[-1].lstrip('\n') %}"
    "{%- else %}{%- set content = message.content %}{%- endif %}"
    "{{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}"
    "{%- if enable_thinking is defined and enable_thinking is false %}"
    "{{- '<think>\n\n</think>\n\n' }}{%- endif %}{%- endif %}"
)

RECIPES: dict[str, Recipe] = {
    "2.0": Recipe("spm", "default", _CHATML_JINJA, "MiniCPM-V-2", False, None),
    "2.5": Recipe("llama3", "llama-bpe", _LLAMA3_JINJA, "MiniCPM-Llama3-V-2_5", False, None),
    "2.6": Recipe("chatml", "qwen2", _QWEN2_JINJA, "MiniCPM-V-2_6", True, None),
    "o-2.6": Recipe("chatml", "qwen2", _QWEN2_JINJA, "MiniCPM-o-2_6", True, None),
    "4.0": Recipe("spm", "default", _CHATML_JINJA, "MiniCPM-V-4", True, 64),
    "4.5": Recipe("qwen3", "qwen2", _QWEN3_JINJA, "MiniCPM-V-4_5", True, 64),
    "4.6": Recipe("qwen3", "qwen35", _CHATML_JINJA, "MiniCPM-V-4.6", True, None),
}

# Token types (llama_token_type): 1 normal, 2 unknown, 3 control, 4 user-defined, 6 byte.
_NORMAL, _UNKNOWN, _CONTROL, _USER, _BYTE = 1, 2, 3, 4, 6

_LLAMA3_SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
_CHATML_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_IMAGE_TOKENS = ("<image>", "</image>", "<slice>", "</slice>")
_IMAGE_ID_TOKENS = ("<image_id>", "</image_id>")
_THINK_TOKENS = ("<think>", "</think>")


def _byte_chars() -> list[str]:
    """GPT-2 byte-level alphabet: the printable character standing for each byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = {b: chr(b) for b in keep}
    extra = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def vocab(recipe: Recipe):
    """(tokens, token_types, scores|None, merges|None, {bos, eos, ...} ids)."""
    specials: list[tuple[str, int]] = []
    if recipe.vocab == "llama3":
        specials += [(t, _CONTROL) for t in _LLAMA3_SPECIALS]
    else:
        specials += [(t, _CONTROL) for t in _CHATML_SPECIALS]
    specials += [(t, _CONTROL) for t in _IMAGE_TOKENS]
    if recipe.image_id_tokens:
        specials += [(t, _CONTROL) for t in _IMAGE_ID_TOKENS]
    if recipe.vocab == "qwen3":
        specials += [(t, _USER) for t in _THINK_TOKENS]  # Qwen3: added, not special

    if recipe.vocab == "spm":
        tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
        types = [_UNKNOWN, _CONTROL, _CONTROL] + [_BYTE] * 256
        pieces = ["▁", "▁a", "▁t", "▁the"]
        tokens += pieces
        types += [_NORMAL] * len(pieces)
        scores = [0.0] * 259 + [-float(i + 1) for i in range(len(pieces))]
        merges = None
    else:
        tokens = _byte_chars() + ["Ġa", "Ġt"]
        types = [_NORMAL] * len(tokens)
        scores = None
        merges = ["Ġ a", "Ġ t"]
    for text, kind in specials:
        tokens.append(text)
        types.append(kind)
        if scores is not None:
            scores.append(0.0)
    index = {t: i for i, t in enumerate(tokens)}
    if recipe.vocab == "llama3":
        ids = {"bos": index["<|begin_of_text|>"], "eos": index["<|end_of_text|>"]}
    elif recipe.vocab == "spm":
        ids = {"bos": index["<s>"], "eos": index["<|im_end|>"], "unk": index["<unk>"]}
    else:
        ids = {"bos": index["<|endoftext|>"], "eos": index["<|im_end|>"], "pad": index["<|endoftext|>"]}
    return tokens, types, scores, merges, ids
