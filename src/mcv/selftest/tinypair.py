"""Tiny random-weight GGUF pairs (LLM + mmproj) shaped like each MiniCPM-V generation.

API (stable):
    write_pair(directory, generation="2.5", *, vision_width=64, vision_blocks=1,
               vision_heads=4, n_embd=128, n_layers=1, n_head=4, n_ff=256,
               llm_name=None, mmproj_name=None, quant_label="Q4_K_M", seed=0,
               omit_version_key=False,
               # deliberately bad pairs (tests):
               projector_n_embd=None, minicpmv_version=KEEP, llm_arch=None)
        -> (llm_path, mmproj_path)
    GENERATION_IDS   the generation ids write_pair accepts

The files carry the key names, key TYPES, tensor names and tokenizer layout of
the published files (reference: /work/shared/reference/minicpmv.md §1, §4 and
the llama.cpp converters), so identification, Modelfile rendering and real
llama.cpp inference can all be tested offline. Only the sizes are tiny and the
weights random (seeded, deterministic): a pair is a few MB and loads in ms.

What is kept exact, per generation:
  LLM    general.architecture (llama / qwen2 / minicpm / qwen3 / qwen35), the
         arch's hparam keys, general.file_type from `quant_label` (the weights
         themselves are f16/f32), tokenizer model/pre, a vocabulary with the
         byte tokens + the chat specials + <image> </image> <slice> </slice>
         (+ <image_id> </image_id> from 2.6), newline, merges (BPE) or scores
         (SentencePiece, 4.0), token types, bos/eos and a chat template like
         the real tokenizer.chat_template;
  mmproj the legacy MiniCPM-V converter layout (resampler; int32
         clip.minicpmv_version; fc1 stored as ffn_down as the real files do) or
         the 4.6 convert_hf_to_gguf layout (projector_type minicpmv4_6, ViT
         merger + final merger tensors).

Deviations a test may rely on being different from the real files:
  - n_layers < 2 is raised to 2 for qwen35 (4.6) so both a linear-attention
    and a full-attention layer exist.
  - the 2.5 mmproj writes clip.minicpmv_version = 2 unless
    omit_version_key=True (the May-2024 published file has no such key).

Verified with llama-cpp-python 0.3.36 (tests/modelfile/test_tinypair.py, slow):
every supported generation (2.5, 2.6, o-2.6, 4.0, 4.5, 4.6) loads and answers
a chat with a 1200x900 image; 2.0 is written only to test its refusal.

Split for size: tokenizer recipes in tinypair_vocab.py, mmproj writers in
tinypair_mmproj.py. numpy and gguf are imported inside functions (this module
is reachable from `mcv doctor`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcv.modelfile import generations
from mcv.selftest.tinypair_mmproj import finish, write_minicpmv46_mmproj, write_resampler_mmproj
from mcv.selftest.tinypair_vocab import RECIPES, Recipe, vocab

GENERATION_IDS = ("2.0", "2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6")

KEEP: Any = object()  # sentinel: "use the generation's own value"


def write_pair(
    directory: Path,
    generation: str = "2.5",
    *,
    vision_width: int = 64,
    vision_blocks: int = 1,
    vision_heads: int = 4,
    n_embd: int = 128,
    n_layers: int = 1,
    n_head: int = 4,
    n_ff: int = 256,
    llm_name: str | None = None,
    mmproj_name: str | None = None,
    quant_label: str = "Q4_K_M",
    seed: int = 0,
    omit_version_key: bool = False,
    projector_n_embd: int | None = None,
    minicpmv_version: Any = KEEP,
    llm_arch: str | None = None,
) -> tuple[Path, Path]:
    """Write a tiny LLM GGUF and its mmproj into `directory`; return both paths.

    `projector_n_embd` (output width of the projector, default n_embd),
    `minicpmv_version` (int, or None to omit the key) and `llm_arch` override
    the generation's facts to build deliberately inconsistent pairs.
    """
    if generation not in RECIPES:
        raise ValueError(f"unknown generation {generation!r}; expected one of {GENERATION_IDS}")
    gen = generations.get(generation)
    recipe = RECIPES[generation]
    if n_embd % 128 and gen.projector_type == "resampler":
        raise ValueError("n_embd must be a multiple of 128 (the resampler uses 128-wide heads)")
    if vision_width % vision_heads or n_embd % n_head:
        raise ValueError("vision_width and n_embd must be multiples of their head counts")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    # llama.cpp's converter names (the published names vary by repo).
    llm_path = directory / (llm_name or f"ggml-model-{quant_label}.gguf")
    mmproj_path = directory / (mmproj_name or "mmproj-model-f16.gguf")

    import numpy as np

    rng = np.random.default_rng(seed)
    arch = llm_arch or gen.llm_arch
    _write_llm(
        llm_path, rng, arch=arch, recipe=recipe, n_embd=n_embd, n_layers=n_layers,
        n_head=n_head, n_ff=n_ff, quant_label=quant_label, context_length=gen.context_length,
    )
    version = gen.minicpmv_version if minicpmv_version is KEEP else minicpmv_version
    if omit_version_key:
        version = None
    proj_width = projector_n_embd or n_embd
    if gen.projector_type == "resampler":
        write_resampler_mmproj(
            mmproj_path, rng, version=version, query_num=recipe.query_num or gen.tokens_per_slice,
            write_query_num=recipe.query_num is not None, width=vision_width, blocks=vision_blocks,
            heads=vision_heads, out_width=proj_width,
        )
    else:
        write_minicpmv46_mmproj(
            mmproj_path, rng, version=None if minicpmv_version is KEEP else minicpmv_version,
            width=vision_width, blocks=vision_blocks, heads=vision_heads, out_width=proj_width,
        )
    return llm_path, mmproj_path


# --- LLM -----------------------------------------------------------------


def _ftype(quant_label: str) -> int:
    import gguf

    name = "ALL_F32" if quant_label.upper() == "F32" else "MOSTLY_" + quant_label.upper()
    try:
        return int(gguf.LlamaFileType[name])
    except KeyError:
        raise ValueError(f"quant_label {quant_label!r} is not a llama_ftype name") from None


def _write_llm(
    path: Path, rng, *, arch: str, recipe: Recipe, n_embd: int, n_layers: int, n_head: int,
    n_ff: int, quant_label: str, context_length: int,
) -> None:
    import gguf
    import numpy as np

    tokens, types, scores, merges, ids = vocab(recipe)
    if arch == "qwen35":
        n_layers = max(n_layers, 2)
    head_dim = n_embd // n_head
    w = gguf.GGUFWriter(str(path), arch)
    w.add_type("model")
    w.add_name(recipe.gen_name)
    w.add_size_label("tiny")
    w.add_uint32(f"{arch}.context_length", context_length)
    w.add_uint32(f"{arch}.embedding_length", n_embd)
    w.add_uint32(f"{arch}.block_count", n_layers)
    w.add_uint32(f"{arch}.feed_forward_length", n_ff)
    w.add_uint32(f"{arch}.attention.head_count", n_head)
    w.add_uint32(f"{arch}.attention.head_count_kv", n_head)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5 if arch == "llama" else 1e-6)
    w.add_float32(f"{arch}.rope.freq_base", 500000.0 if arch == "llama" else 1000000.0)
    w.add_uint32(f"{arch}.vocab_size", len(tokens))
    if arch in ("llama", "minicpm"):
        w.add_uint32(f"{arch}.rope.dimension_count", head_dim)
    if arch == "minicpm":
        # MiniCPM scales (convert_hf_to_gguf MiniCPMModel): scale_emb, scale_depth/sqrt(L), hidden/dim_model_base
        w.add_float32("minicpm.embedding_scale", 12.0)
        w.add_float32("minicpm.residual_scale", 1.4 / n_layers**0.5)
        w.add_float32("minicpm.logit_scale", n_embd / 256.0)
    if arch in ("qwen3", "qwen35"):
        w.add_uint32(f"{arch}.attention.key_length", head_dim)
        w.add_uint32(f"{arch}.attention.value_length", head_dim)
    ssm = None
    if arch == "qwen35":
        ssm = dict(d_conv=4, d_state=16, n_group=2, dt_rank=2)
        ssm["d_inner"] = ssm["d_state"] * ssm["dt_rank"]
        n_rot = max(4, head_dim // 4)  # partial rotary factor 0.25
        w.add_uint32("qwen35.rope.dimension_count", n_rot)
        half = n_rot // 2
        w.add_array("qwen35.rope.dimension_sections", [half - half // 2, half // 2, 0, 0])
        w.add_uint32("qwen35.ssm.conv_kernel", ssm["d_conv"])
        w.add_uint32("qwen35.ssm.state_size", ssm["d_state"])
        w.add_uint32("qwen35.ssm.group_count", ssm["n_group"])
        w.add_uint32("qwen35.ssm.time_step_rank", ssm["dt_rank"])
        w.add_uint32("qwen35.ssm.inner_size", ssm["d_inner"])
        w.add_uint32("qwen35.full_attention_interval", 2)
    w.add_uint32("general.file_type", _ftype(quant_label))
    w.add_uint32("general.quantization_version", 2)

    # tokenizer
    w.add_string("tokenizer.ggml.model", "llama" if recipe.vocab == "spm" else "gpt2")
    w.add_string("tokenizer.ggml.pre", recipe.pre)
    w.add_array("tokenizer.ggml.tokens", tokens)
    if scores is not None:
        w.add_array("tokenizer.ggml.scores", scores)
    w.add_array("tokenizer.ggml.token_type", types)
    if merges is not None:
        w.add_array("tokenizer.ggml.merges", merges)
    w.add_uint32("tokenizer.ggml.bos_token_id", ids["bos"])
    w.add_uint32("tokenizer.ggml.eos_token_id", ids["eos"])
    if "pad" in ids:
        w.add_uint32("tokenizer.ggml.padding_token_id", ids["pad"])
    if "unk" in ids:
        w.add_uint32("tokenizer.ggml.unknown_token_id", ids["unk"])
    w.add_bool("tokenizer.ggml.add_bos_token", recipe.vocab in ("llama3", "spm"))
    w.add_string("tokenizer.chat_template", recipe.chat_template)

    def mat(*shape: int):
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    def ones(n: int):
        return np.ones(n, dtype=np.float32)

    w.add_tensor("token_embd.weight", mat(len(tokens), n_embd))
    w.add_tensor("output_norm.weight", ones(n_embd))
    for i in range(n_layers):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", ones(n_embd))
        if arch == "qwen35":
            w.add_tensor(p + "post_attention_norm.weight", ones(n_embd))
            if (i + 1) % 2:  # linear-attention (gated delta net) layer
                _add_delta_net(w, p, mat, ones, n_embd, ssm, rng)
            else:
                w.add_tensor(p + "attn_q.weight", mat(2 * n_embd, n_embd))  # query + gate
                w.add_tensor(p + "attn_k.weight", mat(n_embd, n_embd))
                w.add_tensor(p + "attn_v.weight", mat(n_embd, n_embd))
                w.add_tensor(p + "attn_output.weight", mat(n_embd, n_embd))
                w.add_tensor(p + "attn_q_norm.weight", ones(head_dim))
                w.add_tensor(p + "attn_k_norm.weight", ones(head_dim))
        else:
            for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
                w.add_tensor(p + name + ".weight", mat(n_embd, n_embd))
            if arch == "qwen2":  # Qwen2 has q/k/v biases
                for name in ("attn_q", "attn_k", "attn_v"):
                    w.add_tensor(p + name + ".bias", np.zeros(n_embd, dtype=np.float32))
            if arch == "qwen3":
                w.add_tensor(p + "attn_q_norm.weight", ones(head_dim))
                w.add_tensor(p + "attn_k_norm.weight", ones(head_dim))
            w.add_tensor(p + "ffn_norm.weight", ones(n_embd))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, n_embd))
        w.add_tensor(p + "ffn_down.weight", mat(n_embd, n_ff))
    finish(w)


def _add_delta_net(w, p: str, mat, ones, n_embd: int, ssm: dict, rng) -> None:
    import numpy as np

    key_dim = ssm["d_state"] * ssm["n_group"]
    value_dim = ssm["d_inner"]
    w.add_tensor(p + "attn_qkv.weight", mat(2 * key_dim + value_dim, n_embd))
    w.add_tensor(p + "attn_gate.weight", mat(value_dim, n_embd))
    w.add_tensor(p + "ssm_conv1d.weight", (rng.standard_normal((2 * key_dim + value_dim, ssm["d_conv"])) * 0.1).astype(np.float32))
    w.add_tensor(p + "ssm_dt.bias", np.zeros(ssm["dt_rank"], dtype=np.float32))
    w.add_tensor(p + "ssm_a", -np.ones(ssm["dt_rank"], dtype=np.float32))
    w.add_tensor(p + "ssm_beta.weight", mat(ssm["dt_rank"], n_embd))
    w.add_tensor(p + "ssm_alpha.weight", mat(ssm["dt_rank"], n_embd))
    w.add_tensor(p + "ssm_norm.weight", ones(ssm["d_state"]))
    w.add_tensor(p + "ssm_out.weight", mat(n_embd, value_dim))
