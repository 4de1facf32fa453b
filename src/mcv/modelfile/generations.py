"""MiniCPM-V generations as data: one frozen record per generation, one table.

API (stable):
    Generation            frozen dataclass, fields documented below
    Sampling              frozen dataclass (temperature, top_p, top_k, repeat_penalty)
    GENERATIONS           tuple of every record, oldest first (incl. refused ones)
    SUPPORTED             tuple of the records mcv packages/runs (refused excluded)
    get(gen_id) -> Generation        InputError for an unknown id
    by_projector(projector_type, minicpmv_version) -> tuple[Generation, ...]
                          candidates for identification (may be several: the
                          version alone does not always decide, see identify.py)
    LicenseTerm           frozen dataclass (name, url, covers, notice)
    lay_out_message(text, images) -> [image | str]   a message's pieces in order
    ollama_message_content(text, image_count) -> str  the same for /api/chat
    EMPTY_THINK_BLOCK     "<think>\n\n</think>\n\n" (thinking off, Qwen3 convention)

Nothing here branches on a generation: code elsewhere reads the fields. To add
a generation, add one record to `_TABLE` (and a tiny-pair recipe in mcv/selftest/tinypair.py).

Sources: /work/shared/reference/minicpmv.md (§1 table, §2 templates/stops/
sampling) and ollama.md §2, and the public sources cited at each value;
choices where the sources were silent are commented at the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence, TypeVar

from mcv.errors import InputError

T = TypeVar("T")

# LLaVA-UHD caps an image at 9 slices of 448x448 (mtmd-image.cpp, max_slice_nums=9).
MAX_PIXELS = 9 * 448 * 448

# Context window written as PARAMETER num_ctx. 2.5 was trained at 8192 (Ollama
# clamps num_ctx to the training context anyway); the Qwen-based generations
# accept 32K+, but the KV cache grows linearly with it (Llama3-8B / Qwen3-8B:
# ~1.1 GB f16 at 8192) and one full-resolution image costs at most ~1000
# tokens, so 8192 holds a conversation with several images on a 16 GB laptop.
DEFAULT_NUM_CTX = 8192


@dataclass(frozen=True)
class Sampling:
    """HF `chat()` sampling defaults (identical for every generation)."""

    temperature: float = 0.7
    top_p: float = 0.8
    top_k: int = 100
    repeat_penalty: float = 1.05


# --- Ollama Go templates ---------------------------------------------------
# Messages-range form: Ollama renders it once with every message (system
# messages included, consecutive same-role messages merged), so one range over
# .Messages with .Role covers system/user/assistant. No <image>/<slice> tokens:
# the runner (mtmd) inserts them where Ollama puts the image marker.
#
# A trailing assistant message is continued, not closed (no end-of-turn, no new
# assistant header), as in prompt.py, in OpenBMB's own Modelfile templates
# (MiniCPM-V-CookBook deployment/ollama/minicpm-v4_ollama.md @ 4a39cc0: `if $last`
# and assistant, no <|im_end|>) and in Ollama's chat prefill (ollama/ollama
# server/routes.go ChatHandler @ fb30760, "Determine last message for chat
# prefill"). Otherwise the text is that of Ollama's
# template/llama3-instruct.gotmpl and template/chatml.gotmpl.

LLAMA3_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n"
    "\n"
    "{{ .Content }}\n"
    '{{- if not (and $last (eq .Role "assistant")) }}<|eot_id|>\n'
    "{{- end }}\n"
    '{{- if and $last (ne .Role "assistant") }}<|start_header_id|>assistant<|end_header_id|>\n'
    "\n"
    "{{ end }}\n"
    "{{- end }}"
)

# Qwen3's enable_thinking=False convention: the answer opens with an empty
# think block (Qwen3/Qwen3.5 chat templates, add_generation_prompt branch;
# OpenBMB/MiniCPM-V finetune/dataset.py conversation_to_ids_qwen2 @ 0dbb566).
EMPTY_THINK_BLOCK = "<think>\n\n</think>\n\n"


def _chatml_template(answer_prefix: str = "") -> str:
    """ChatML whose every new answer starts with `answer_prefix` (plain text)."""
    return (
        "{{- range $i, $_ := .Messages }}\n"
        "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
        '{{- if and $last (eq .Role "assistant") }}<|im_start|>assistant\n'
        f"{answer_prefix}{{{{ .Content }}}}\n"
        "{{- else }}<|im_start|>{{ .Role }}\n"
        "{{ .Content }}<|im_end|>\n"
        "{{ if $last }}<|im_start|>assistant\n"
        f"{answer_prefix}{{{{ end }}}}\n"
        "{{- end }}\n"
        "{{- end }}"
    )


CHATML_TEMPLATE = _chatml_template()

# V 4.6 Instruct: every answer is prefilled with the empty think block, whatever
# `think` says. The model's own template opens thinking by default, and the
# Instruct checkpoint "does not emit <think> blocks ... Always pass
# `--reasoning off`" (OpenBMB MiniCPM-V-CookBook
# deployment/llama.cpp/minicpm-v4_6_llamacpp.md, petebytes fork @ 4a39cc0,
# commit 189ec23); `--reasoning off` renders the template with
# enable_thinking=false, i.e. this prefill. OpenBMB's own apps hard-code it
# (MiniCPM-V-Apps @ 54a9b02: MiniCPM-V-demo/MTMDWrapper/Bridge/MBMtmd.mm,
# MiniCPM-V-demo-Android/app/src/main/cpp/llama_jni.cpp assistant_turn_prefix()).
# Earlier answers render without it, as Qwen3.5's template renders assistant
# turns before the last user query (Qwen/Qwen3.5-27B tokenizer_config.json
# chat_template, read in a third-party verbatim copy; 4.6's own file was not
# available to compare) and as OpenBMB's finetune code
# sees only the last answer's empty block (finetune/dataset.py, above). The
# apps keep the block in every earlier turn only because they append to a live
# KV cache instead of re-rendering. No .Thinking field: Ollama infers thinking
# tags (and the "thinking" capability) only from a .Thinking inside the range
# over .Messages (thinking/template.go InferTags).
QWEN35_INSTRUCT_TEMPLATE = _chatml_template(EMPTY_THINK_BLOCK)

# Qwen3 hybrid thinking (V 4.5). Thinking is switched by Ollama's .Think:
#   - think false (what mcv sends by default for 4.5): the assistant turn is
#     prefilled with an empty "<think>\n\n</think>\n\n" block, the Qwen3
#     convention for enable_thinking=False (the model answers directly);
#   - think true (Ollama's default for a thinking-capable model when the
#     request leaves `think` out): no prefill, the model opens <think> itself
#     and Ollama moves the trace into message.thinking.
# The `<think>{{ .Thinking }}</think>` block inside the range is what makes
# Ollama infer the thinking tags (thinking.InferTags) and so the "thinking"
# capability; like Qwen3's own template it is only rendered for a trailing
# assistant message, earlier turns keep their answers only.
QWEN3_HYBRID_TEMPLATE = (
    "{{- range $i, $_ := .Messages }}\n"
    "{{- $last := eq (len (slice $.Messages $i)) 1 }}\n"
    '{{- if eq .Role "assistant" }}<|im_start|>assistant\n'
    "{{ if and $last .Thinking }}<think>{{ .Thinking }}</think>\n"
    "\n"
    "{{ end }}{{ .Content }}{{ if not $last }}<|im_end|>\n"
    "{{ end }}\n"
    "{{- else }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ if $last }}<|im_start|>assistant\n"
    "{{ if not $.Think }}<think>\n"
    "\n"
    "</think>\n"
    "\n"
    "{{ end }}{{ end }}\n"
    "{{- end }}\n"
    "{{- end }}"
)

LLAMA3_STOPS = ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|end_of_text|>")
CHATML_STOPS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
# The Qwen2-Instruct default, written by 2.6's template when the first message
# is not a system message (see the 2.6 record).
CHATML_SYSTEM = "You are a helpful assistant."

# Ollama's "passthrough" output parser (ollama/ollama model/parsers/parsers.go,
# since v0.12.0) hands the answer through unchanged and claims no tools and no
# thinking. Setting any PARSER makes Ollama render with the Modelfile TEMPLATE
# and ignore the GGUF's tokenizer.chat_template, for the prompt and for the
# capabilities it reports (server/routes.go usesOllamaRenderedChat; server/images.go
# capabilitiesForTemplate, and shouldPreferChatTemplate, which from v0.30 on
# otherwise prefers a GGUF chat template that mentions tools or <think>,
# as Qwen3/Qwen3.5 templates do, over a TEMPLATE with fewer capabilities).
OLLAMA_PASSTHROUGH_PARSER = "passthrough"


# --- where images go in a message ---------------------------------------------
# MiniCPM-V's own chat() puts each image of a message before its text and joins
# the pieces with "\n" (HF modeling_minicpmv.py chat(), copied verbatim in
# xorbitsai/inference xinference/model/llm/transformers/multimodal/minicpmv26.py
# @ 7ecec16, "Copied from .../MiniCPM-V-2_6/blob/main/modeling_minicpmv.py#L315");
# the fine-tuning data is laid out the same way (OpenBMB/MiniCPM-V
# finetune/dataset.py @ 0dbb566: image_placeholder + "\n" + content). Both
# renderers follow it: prompt.py with image parts, and an Ollama chat message
# with "[img]" placeholders, which Ollama swaps for its [img-N] markers in place
# (server/prompt.go imageTaggedMessages; without placeholders it would glue the
# markers to the front of the text with no newline).
IMAGE_SEPARATOR = "\n"
OLLAMA_IMAGE_PLACEHOLDER = "[img]"


def lay_out_message(text: str, images: Sequence[T]) -> list[T | str]:
    """One message's content in order: each image, then the text, separated by
    IMAGE_SEPARATOR (no separator after the last piece; empty text is left out)."""
    pieces: list[T | str] = list(images) + ([text] if text else [])
    laid_out: list[T | str] = []
    for index, piece in enumerate(pieces):
        if index:
            laid_out.append(IMAGE_SEPARATOR)
        laid_out.append(piece)
    return laid_out


def ollama_message_content(text: str, image_count: int) -> str:
    """The /api/chat `content` that makes Ollama lay a message out as above."""
    return "".join(lay_out_message(text, [OLLAMA_IMAGE_PLACEHOLDER] * image_count))


# --- licences -----------------------------------------------------------------
# OpenBMB moved the MiniCPM-o/V weights and code to Apache-2.0 and deleted the
# MiniCPM Model License (OpenBMB/MiniCPM-V commits 9d37b1c and c130da1,
# 2025-09-15; README "Model License" at 0dbb566: "The MiniCPM-o/V model weights
# and code are open-sourced under the Apache-2.0 license").


@dataclass(frozen=True)
class LicenseTerm:
    """One licence that applies to a generation's weights."""

    name: str
    url: str
    covers: str  # what it applies to, completing "applies to ..."
    notice: str = ""  # attribution text the licence requires in every copy


_APACHE_MINICPM = LicenseTerm(
    "Apache License 2.0",
    "https://github.com/OpenBMB/MiniCPM-V/blob/main/LICENSE",
    "the MiniCPM-o/V weights and code (OpenBMB's licence for them since 2025-09-15)",
)
# 2.5 is "built on SigLip-400M and Llama3-8B-Instruct" (OpenBMB/MiniCPM-V
# docs/minicpm_llama3_v2dot5.md @ 0dbb566). OpenBMB's Apache statement cannot
# relicense Meta's part: the Llama 3 licence (§1.b.iii) asks every copy to keep
# this notice (https://llama.meta.com/llama3/license/).
_LLAMA3_COMMUNITY = LicenseTerm(
    "Meta Llama 3 Community License",
    "https://llama.meta.com/llama3/license/",
    "its language model, built on Meta Llama 3 8B Instruct",
    notice="Meta Llama 3 is licensed under the Meta Llama 3 Community License, "
    "Copyright © Meta Platforms, Inc. All Rights Reserved.",
)
# 2.6 is "built on SigLip-400M and Qwen2-7B" (docs/minicpm_v2dot6.md @ 0dbb566);
# Qwen2-7B(-Instruct) is Apache-2.0 (huggingface.co/Qwen/Qwen2-7B-Instruct card,
# "License: apache-2.0"; unlike Qwen2-72B).
_APACHE_QWEN2 = LicenseTerm(
    "Apache License 2.0",
    "https://www.apache.org/licenses/LICENSE-2.0",
    "its language model's base, Qwen2-7B",
)
# 4.5 is "built on Qwen3-8B and SigLIP2-400M" (docs/minicpm_v4dot5_en.md @
# 0dbb566); Qwen3-8B's card: license apache-2.0, license_link
# https://huggingface.co/Qwen/Qwen3-8B/blob/main/LICENSE (read in mirrors).
_APACHE_QWEN3 = LicenseTerm(
    "Apache License 2.0",
    "https://huggingface.co/Qwen/Qwen3-8B/blob/main/LICENSE",
    "its language model's base, Qwen3-8B",
)
# o-2.6 (Qwen2.5-7B), 4.0 (MiniCPM4-3B) and 4.6 (Qwen3.5-0.8B): no base-model
# licence was confirmed from the base's own page, so none is restated.


@dataclass(frozen=True)
class Generation:
    """One MiniCPM-V generation: how to recognise it, run it and package it."""

    id: str  # "2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6" (and refused "2.0")
    name: str  # human name, e.g. "MiniCPM-Llama3-V 2.5"
    # --- recognition (GGUF facts) ---
    llm_arch: str  # LLM general.architecture
    n_embd: int | None  # LLM width of the real model; None = not known (read it)
    projector_type: str  # mmproj clip.projector_type: "resampler" | "minicpmv4_6"
    minicpmv_version: int | None  # clip.minicpmv_version; None: the key is not used
    vocab_marker: str  # a special token only this chat format has (fallback hint)
    # --- images ---
    tokens_per_slice: int  # embeddings per 448px slice (query_num)
    max_pixels: int  # above this the slice grid no longer changes (client downscale)
    # --- chat ---
    chat_format: str  # "llama3" | "chatml"
    ollama_template: str  # Go text/template for the Modelfile TEMPLATE
    stop: tuple[str, ...]  # PARAMETER stop values, in order
    # Default system prompt (SYSTEM), used when a conversation does not start
    # with a system message (Ollama and prompt.py alike); None = none.
    system: str | None
    sampling: Sampling
    num_ctx: int  # PARAMETER num_ctx written by mcv
    context_length: int  # training context of the LLM (upper bound)
    thinking: str  # "none" | "qwen3-hybrid" (off by default, .Think switches it)
    # Text every new answer starts with, whatever `think` says (4.6 Instruct:
    # EMPTY_THINK_BLOCK). Not the same as "qwen3-hybrid", which prefills the
    # empty block only while thinking is off.
    answer_prefix: str
    ollama_parser: str | None  # Modelfile PARSER; None = none
    # --- distribution ---
    # Hugging Face repo of the GGUF pair. File names drift between repos and
    # over time, so none are recorded: `mcv model fetch` lists the repo and
    # picks the files by role and quantisation (mcv.packaging.hub_catalog).
    hf_repo: str
    licenses: tuple[LicenseTerm, ...]  # every licence that applies, main one first
    # The generation's model on ollama.com: a library name ("minicpm-v") or a
    # namespaced one ("openbmb/minicpm-v4.6"); None = none published.
    ollama_registry_model: str | None
    # --- refusal ---
    refused: str | None = None  # reason mcv will not use it; None = supported
    notes: str = ""
    # Room for runtime fields (llama.cpp backend): add them BELOW this line with
    # defaults, e.g. a Jinja chat template for llama-cpp-python handlers.
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def supported(self) -> bool:
        return self.refused is None


_LLAMA3 = dict(
    chat_format="llama3",
    ollama_template=LLAMA3_TEMPLATE,
    stop=LLAMA3_STOPS,
    answer_prefix="",
    ollama_parser=OLLAMA_PASSTHROUGH_PARSER,
    vocab_marker="<|eot_id|>",
)
_CHATML = dict(
    chat_format="chatml",
    ollama_template=CHATML_TEMPLATE,
    stop=CHATML_STOPS,
    answer_prefix="",
    ollama_parser=OLLAMA_PASSTHROUGH_PARSER,
    vocab_marker="<|im_end|>",
)
_COMMON = dict(max_pixels=MAX_PIXELS, sampling=Sampling(), num_ctx=DEFAULT_NUM_CTX)

_TABLE: tuple[Generation, ...] = (
    Generation(
        id="2.0",
        name="MiniCPM-V 2.0",
        llm_arch="minicpm",
        n_embd=2304,
        projector_type="resampler",
        minicpmv_version=1,
        tokens_per_slice=64,
        context_length=4096,
        thinking="none",
        hf_repo="openbmb/MiniCPM-V-2-gguf",
        licenses=(_APACHE_MINICPM,),
        ollama_registry_model=None,
        system=None,  # refused: never rendered
        refused=(
            "MiniCPM-V 2.0 (clip.minicpmv_version 1) is not supported by current "
            "llama.cpp/Ollama (mtmd rejects it); use MiniCPM-Llama3-V 2.5 or later"
        ),
        **_CHATML,
        **_COMMON,
    ),
    Generation(
        id="2.5",
        name="MiniCPM-Llama3-V 2.5",
        llm_arch="llama",
        n_embd=4096,
        projector_type="resampler",
        minicpmv_version=2,
        tokens_per_slice=96,
        context_length=8192,
        thinking="none",
        hf_repo="openbmb/MiniCPM-Llama3-V-2_5-gguf",
        licenses=(_APACHE_MINICPM, _LLAMA3_COMMUNITY),
        ollama_registry_model=None,  # none on ollama.com (ollama/ollama#4900 still open)
        # Llama-3-Instruct adds no default system prompt (minicpmv.md §2; OpenBMB/MiniCPM-V
        # finetune/dataset.py llama3_chat_template @ 0dbb566 has none either).
        system=None,
        notes="The May-2024 mmproj has no clip.minicpmv_version key; llama.cpp reads it as 2.",
        **_LLAMA3,
        **_COMMON,
    ),
    Generation(
        id="2.6",
        name="MiniCPM-V 2.6",
        llm_arch="qwen2",
        n_embd=3584,
        projector_type="resampler",
        minicpmv_version=3,
        tokens_per_slice=64,
        context_length=32768,
        thinking="none",
        hf_repo="openbmb/MiniCPM-V-2_6-gguf",
        licenses=(_APACHE_MINICPM, _APACHE_QWEN2),
        ollama_registry_model="minicpm-v",  # the library model is 2.6 (ollama.md §3)
        # Its Qwen2-Instruct template adds "You are a helpful assistant." when the first
        # message is not a system message (xorbitsai/inference llm_family.json entry
        # "MiniCPM-V-2.6" chat_template @ 7ecec16; llama-cpp-python 0.3.36
        # llama_chat_format.py MiniCPMv26ChatHandler). HF's own tokenizer_config.json
        # was not read.
        system=CHATML_SYSTEM,
        **_CHATML,
        **_COMMON,
    ),
    Generation(
        id="o-2.6",
        name="MiniCPM-o 2.6",
        llm_arch="qwen2",
        n_embd=3584,
        projector_type="resampler",
        minicpmv_version=4,
        tokens_per_slice=64,
        context_length=32768,
        thinking="none",
        hf_repo="openbmb/MiniCPM-o-2_6-gguf",
        licenses=(_APACHE_MINICPM,),
        ollama_registry_model=None,
        # NOT CONFIRMED: MiniCPM-o-2_6's tokenizer_config.json was not found. Kept as
        # 2.6 (same Qwen2-family ChatML; llama-cpp-python's 2.6 handler, which adds
        # this default, is what users run o-2.6 with, abetlen/llama-cpp-python#1904):
        # no source says to change it.
        system=CHATML_SYSTEM,
        **_CHATML,
        **_COMMON,
    ),
    Generation(
        id="4.0",
        name="MiniCPM-V 4.0",
        llm_arch="minicpm",
        n_embd=2560,
        projector_type="resampler",
        minicpmv_version=5,
        tokens_per_slice=64,
        context_length=32768,
        thinking="none",
        # Publishes ggml-model-{Q4_0..Q8_0, Q4_K_M}.gguf + mmproj-model-f16.gguf
        # (OpenBMB MiniCPM-V-Apps ModelInfo.kt; ComfyUI MiniCPM-V-4 loaders).
        # "Model-3.6B-..." is only the Cookbook's local conversion output.
        hf_repo="openbmb/MiniCPM-V-4-gguf",
        licenses=(_APACHE_MINICPM,),
        ollama_registry_model="openbmb/minicpm-v4",  # CookBook deployment/ollama/minicpm-v4_ollama.md @ 4a39cc0
        # NOT CONFIRMED: MiniCPM-V-4's own template was not found. OpenBMB's sources
        # differ: its Ollama Modelfile sets this SYSTEM (MiniCPM-V-CookBook
        # deployment/ollama/minicpm-v4_ollama.md @ 4a39cc0), its apps send none
        # (MiniCPM-V-Apps @ 54a9b02, commit e882ae4). Kept, as the Ollama packaging
        # OpenBMB documents for this generation.
        system=CHATML_SYSTEM,
        **_CHATML,
        **_COMMON,
    ),
    Generation(
        id="4.5",
        name="MiniCPM-V 4.5",
        llm_arch="qwen3",
        n_embd=4096,
        projector_type="resampler",
        minicpmv_version=6,
        tokens_per_slice=64,
        context_length=40960,
        thinking="qwen3-hybrid",
        hf_repo="openbmb/MiniCPM-V-4_5-gguf",
        licenses=(_APACHE_MINICPM, _APACHE_QWEN3),
        ollama_registry_model="openbmb/minicpm-v4.5",  # CookBook deployment/ollama/minicpm-v4_5_ollama.md @ 4a39cc0
        # Qwen3's template adds no default system prompt, and neither does HF chat()
        # (minicpmv.md "Corrections"; OpenBMB/MiniCPM-V finetune/dataset.py
        # conversation_to_ids_qwen2 @ 0dbb566 adds none). xinference's 4.5 entry
        # copies the 2.6 template (default system, no think handling): not 4.5's own.
        system=None,
        notes="clip.minicpmv_version 6 is also used by MiniCPM-o 4.0; the qwen3 LLM decides.",
        # No PARSER: "passthrough" would stop Ollama from splitting the thinking off.
        **{**_CHATML, "ollama_template": QWEN3_HYBRID_TEMPLATE, "ollama_parser": None},
        **_COMMON,
    ),
    Generation(
        id="4.6",
        name="MiniCPM-V 4.6",
        llm_arch="qwen35",
        # hidden_size of the HF config and of MiniCPM-V-4_6-Q4_K_M.gguf (xorbitsai/inference
        # xinference/model/llm/models/MiniCPM-V-4.6.json @ 5beee8b, model_metadata).
        n_embd=1024,
        projector_type="minicpmv4_6",
        minicpmv_version=None,  # 4.6 mmproj has no version key
        tokens_per_slice=64,  # 16x merge mode (clip.vision.projector.scale_factor 4)
        context_length=262144,
        thinking="none",  # the instruct checkpoint; "-Thinking" is a separate model
        # Ships MiniCPM-V-4_6-{Q4_K_M,...,Q8_0,F16}.gguf + mmproj-model-f16.gguf
        # (xorbitsai/inference llm_family.json); ggml-org/MiniCPM-V-4.6-GGUF
        # names them MiniCPM-V-4.6-Q4_K_M.gguf + mmproj-MiniCPM-V-4.6-Q8_0.gguf.
        hf_repo="openbmb/MiniCPM-V-4.6-gguf",
        licenses=(_APACHE_MINICPM,),
        ollama_registry_model="openbmb/minicpm-v4.6",  # CookBook deployment/ollama/minicpm-v4_6_ollama.md @ 4a39cc0
        # Qwen3.5's template adds none, HF chat() passes none (minicpmv.md
        # "Corrections"), and OpenBMB's apps dropped theirs because an English system
        # prompt made Chinese questions get English answers (MiniCPM-V-Apps commit
        # e882ae4; MBMtmd.mm: "We deliberately do NOT inject any default system
        # prompt"). The CookBook's 4.6 Ollama Modelfile (deployment/ollama/
        # minicpm-v4_6_ollama.md @ 4a39cc0) does set one, with plain ChatML and no
        # think prefill, against its own llama.cpp advice; the model's template wins.
        system=None,
        notes=(
            "Instruct checkpoint: answers are prefilled with an empty think block; "
            "the chat template is assumed to be Qwen3.5's (4.6's own file not read)."
        ),
        **{**_CHATML, "ollama_template": QWEN35_INSTRUCT_TEMPLATE, "answer_prefix": EMPTY_THINK_BLOCK},
        **_COMMON,
    ),
)

GENERATIONS: tuple[Generation, ...] = _TABLE
SUPPORTED: tuple[Generation, ...] = tuple(g for g in _TABLE if g.supported)
_BY_ID = {g.id: g for g in _TABLE}


def get(gen_id: str) -> Generation:
    """The record for `gen_id` ("2.5", "o-2.6", ...)."""
    try:
        return _BY_ID[gen_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise InputError(f"unknown MiniCPM-V generation {gen_id!r} (known: {known})") from None


def by_projector(projector_type: str, minicpmv_version: int | None) -> tuple[Generation, ...]:
    """Records whose mmproj facts match; several when only the LLM can decide."""
    return tuple(
        g for g in _TABLE if g.projector_type == projector_type and g.minicpmv_version == minicpmv_version
    )
