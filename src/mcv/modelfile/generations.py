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

Nothing here branches on a generation: code elsewhere reads the fields. To add
a generation, add one record to `_TABLE` (and a tiny-pair recipe in mcv/selftest/tinypair.py).

Sources for every value: /work/shared/reference/minicpmv.md (§1 table, §2
templates/stops/sampling) and ollama.md §2; choices where the sources were
silent are commented at the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcv.errors import InputError

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

# Same text as Ollama's own template/llama3-instruct.gotmpl.
LLAMA3_TEMPLATE = (
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n"
    "\n"
    "{{ .Content }}<|eot_id|>\n"
    "{{- end }}<|start_header_id|>assistant<|end_header_id|>\n"
    "\n"
)

# Same text as Ollama's own template/chatml.gotmpl.
CHATML_TEMPLATE = (
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n"
    "{{ .Content }}<|im_end|>\n"
    "{{ end }}<|im_start|>assistant\n"
)

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
CHATML_SYSTEM = "You are a helpful assistant."

_GENERAL_LICENSE = "https://github.com/OpenBMB/General-Model-License/blob/main/"
_MINICPM_LICENSE = "https://github.com/OpenBMB/MiniCPM/blob/main/MiniCPM%20Model%20License.md"


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
    system: str | None  # default system prompt (SYSTEM); None = none
    sampling: Sampling
    num_ctx: int  # PARAMETER num_ctx written by mcv
    context_length: int  # training context of the LLM (upper bound)
    thinking: str  # "none" | "qwen3-hybrid" (off by default, .Think switches it)
    # --- distribution ---
    hf_repo: str
    llm_file_pattern: str  # LLM file name with "{quant}" for the quantisation label
    quants: tuple[str, ...]  # published quantisations (labels as in the file names)
    mmproj_file: str
    license_name: str
    license_url: str
    ollama_library: str | None  # ollama.com library model of this generation, if any
    # --- refusal ---
    refused: str | None = None  # reason mcv will not use it; None = supported
    notes: str = ""
    # Room for runtime fields (llama.cpp backend): add them BELOW this line with
    # defaults, e.g. a Jinja chat template for llama-cpp-python handlers.
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def hf_files(self) -> dict[str, str]:
        """{quant label: LLM file name} plus {"mmproj": projector file name}."""
        files = {q: self.llm_file(q) for q in self.quants}
        files["mmproj"] = self.mmproj_file
        return files

    def llm_file(self, quant: str) -> str:
        return self.llm_file_pattern.format(quant=quant)

    @property
    def supported(self) -> bool:
        return self.refused is None


_LLAMA3 = dict(
    chat_format="llama3",
    ollama_template=LLAMA3_TEMPLATE,
    stop=LLAMA3_STOPS,
    system=None,
    vocab_marker="<|eot_id|>",
)
_CHATML = dict(
    chat_format="chatml",
    ollama_template=CHATML_TEMPLATE,
    stop=CHATML_STOPS,
    system=CHATML_SYSTEM,
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
        llm_file_pattern="ggml-model-{quant}.gguf",
        quants=("Q2_K", "Q4_0", "Q4_K_M", "f16"),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library=None,
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
        llm_file_pattern="ggml-model-{quant}.gguf",
        quants=(
            "Q2_K", "Q3_K", "Q3_K_L", "IQ3_M", "Q4_K", "Q4_K_M", "Q4_1",
            "Q5_0", "Q5_1", "Q5_K_S", "Q6_K", "F16",
        ),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM General Model License and the Meta Llama 3 Community License",
        license_url=_GENERAL_LICENSE,
        ollama_library=None,  # no official library model (ollama/ollama#4900)
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
        llm_file_pattern="ggml-model-{quant}.gguf",
        quants=("Q4_K_M",),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library="minicpm-v",
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
        llm_file_pattern="Model-7.6B-{quant}.gguf",
        quants=("F16", "Q4_0", "Q4_1", "Q4_K_M", "Q4_K_S", "Q5_0", "Q5_1", "Q5_K_M", "Q6_K", "Q8_0"),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library=None,
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
        hf_repo="openbmb/MiniCPM-V-4-gguf",
        llm_file_pattern="Model-3.6B-{quant}.gguf",
        quants=("Q4_K_M",),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library=None,
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
        llm_file_pattern="ggml-model-{quant}.gguf",
        quants=("Q4_K_M",),
        mmproj_file="mmproj-model-f16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library="minicpm-v4.5",
        notes="clip.minicpmv_version 6 is also used by MiniCPM-o 4.0; the qwen3 LLM decides.",
        **{**_CHATML, "ollama_template": QWEN3_HYBRID_TEMPLATE},
        **_COMMON,
    ),
    Generation(
        id="4.6",
        name="MiniCPM-V 4.6",
        llm_arch="qwen35",
        n_embd=None,  # not confirmed for the published file: read it from the GGUF
        projector_type="minicpmv4_6",
        minicpmv_version=None,  # 4.6 mmproj has no version key
        tokens_per_slice=64,  # 16x merge mode (clip.vision.projector.scale_factor 4)
        context_length=262144,
        thinking="none",  # the instruct checkpoint; "-Thinking" is a separate model
        hf_repo="openbmb/MiniCPM-V-4.6-gguf",
        llm_file_pattern="MiniCPM-V-4.6-{quant}.gguf",
        quants=("Q4_K_M",),
        mmproj_file="mmproj-MiniCPM-V-4.6-F16.gguf",
        license_name="MiniCPM Model License",
        license_url=_MINICPM_LICENSE,
        ollama_library="minicpm-v4.6",
        notes="Chat template assumed plain ChatML (instruct checkpoint); not verified against the HF file.",
        **_CHATML,
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
