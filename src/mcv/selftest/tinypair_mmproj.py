"""Projector (mmproj) side of the tiny pairs; part of tinypair.py (split for size).

write_resampler_mmproj: the legacy MiniCPM-V converter layout (2.0-4.5).
write_minicpmv46_mmproj: the convert_hf_to_gguf --mmproj layout of 4.6.
numpy and gguf are imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path

# SigLIP positions are bucketed on a 70x70 grid whatever the image size.
_POS_ROWS = 70 * 70
_IMAGE_SIZE = 448
_PATCH = 14


def _clip_common(w, *, width: int, ffn: int) -> None:
    w.add_uint32("clip.vision.image_size", _IMAGE_SIZE)
    w.add_uint32("clip.vision.patch_size", _PATCH)
    w.add_uint32("clip.vision.embedding_length", width)
    w.add_uint32("clip.vision.feed_forward_length", ffn)


def write_resampler_mmproj(
    path: Path, rng, *, version: int | None, query_num: int, write_query_num: bool,
    width: int, blocks: int, heads: int, out_width: int,
) -> None:
    """Legacy minicpmv-convert-image-encoder-to-gguf.py layout (key order kept)."""
    import gguf
    import numpy as np

    ffn = 4 * width
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_bool("clip.has_text_encoder", False)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_bool("clip.has_minicpmv_projector", True)
    w.add_uint32("general.file_type", 1)
    w.add_string("general.description", "image encoder for MiniCPM-V")
    w.add_string("clip.projector_type", "resampler")
    if version is not None:
        w.add_int32("clip.minicpmv_version", version)  # int32: llama.cpp asserts the type
    _clip_common(w, width=width, ffn=ffn)
    w.add_uint32("clip.vision.projection_dim", 0)
    w.add_uint32("clip.vision.attention.head_count", heads)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    w.add_uint32("clip.vision.block_count", blocks)
    if write_query_num:
        w.add_uint32("clip.minicpmv_query_num", query_num)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    w.add_bool("clip.use_gelu", True)

    def f16(*shape: int):
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    def f32(*shape: int, scale: float = 0.02):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    ones = lambda n: np.ones(n, dtype=np.float32)  # noqa: E731
    zeros = lambda n: np.zeros(n, dtype=np.float32)  # noqa: E731
    _add_vision_tower(w, f16, ones, zeros, width=width, blocks=blocks, ffn=ffn, legacy_ffn_names=True)
    e = out_width
    w.add_tensor("resampler.pos_embed_k", f32(_POS_ROWS, e))
    w.add_tensor("resampler.query", f32(query_num, e))
    w.add_tensor("resampler.proj.weight", f16(e, e))
    w.add_tensor("resampler.kv.weight", f16(e, width))
    for name in ("q", "k", "v", "out"):
        w.add_tensor(f"resampler.attn.{name}.weight", f16(e, e))
        w.add_tensor(f"resampler.attn.{name}.bias", zeros(e))
    for name in ("q", "kv", "post"):
        w.add_tensor(f"resampler.ln_{name}.weight", ones(e))
        w.add_tensor(f"resampler.ln_{name}.bias", zeros(e))
    finish(w)


def write_minicpmv46_mmproj(
    path: Path, rng, *, version: int | None, width: int, blocks: int, heads: int, out_width: int,
) -> None:
    """convert_hf_to_gguf.py --mmproj layout for MiniCPM-V 4.6 (16x merge mode)."""
    import gguf
    import numpy as np

    ffn = 4 * width
    w = gguf.GGUFWriter(str(path), "clip")
    w.add_type("mmproj")
    w.add_name("MiniCPM-V-4.6")
    w.add_uint32("general.file_type", 1)
    w.add_bool("clip.has_vision_encoder", True)
    w.add_uint32("clip.vision.projection_dim", out_width)
    _clip_common(w, width=width, ffn=ffn)
    w.add_uint32("clip.vision.block_count", blocks)
    w.add_uint32("clip.vision.attention.head_count", heads)
    w.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    w.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    w.add_string("clip.projector_type", "minicpmv4_6")
    w.add_uint32("clip.vision.projector.scale_factor", 4)
    w.add_array("clip.vision.wa_layer_indexes", [min(6, blocks - 1)])
    w.add_bool("clip.use_gelu", True)
    w.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    if version is not None:  # only for deliberately odd files
        w.add_int32("clip.minicpmv_version", version)

    def f16(*shape: int):
        return (rng.standard_normal(shape) * 0.02).astype(np.float16)

    ones = lambda n: np.ones(n, dtype=np.float32)  # noqa: E731
    zeros = lambda n: np.zeros(n, dtype=np.float32)  # noqa: E731
    _add_vision_tower(w, f16, ones, zeros, width=width, blocks=blocks, ffn=ffn, legacy_ffn_names=False)
    m = "v.vit_merger."
    w.add_tensor(m + "ln1.weight", ones(width))
    w.add_tensor(m + "ln1.bias", zeros(width))
    for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
        w.add_tensor(m + name + ".weight", f16(width, width))
        w.add_tensor(m + name + ".bias", zeros(width))
    w.add_tensor(m + "ds_ln.weight", ones(4 * width))
    w.add_tensor(m + "ds_ln.bias", zeros(4 * width))
    w.add_tensor(m + "ds_ffn_up.weight", f16(4 * width, 4 * width))
    w.add_tensor(m + "ds_ffn_up.bias", zeros(4 * width))
    w.add_tensor(m + "ds_ffn_down.weight", f16(width, 4 * width))
    w.add_tensor(m + "ds_ffn_down.bias", zeros(width))
    w.add_tensor("mm.input_norm.weight", ones(4 * width))
    w.add_tensor("mm.input_norm.bias", zeros(4 * width))
    w.add_tensor("mm.up.weight", f16(4 * width, 4 * width))
    w.add_tensor("mm.up.bias", zeros(4 * width))
    w.add_tensor("mm.down.weight", f16(out_width, 4 * width))
    w.add_tensor("mm.down.bias", zeros(out_width))
    finish(w)


def _add_vision_tower(w, f16, ones, zeros, *, width: int, blocks: int, ffn: int, legacy_ffn_names: bool) -> None:
    """SigLIP tower. The legacy MiniCPM-V converter stores fc1 as ffn_down and
    fc2 as ffn_up; llama.cpp swaps them back by shape (clip.cpp is_ffn_swapped)."""
    w.add_tensor("v.patch_embd.weight", f16(width, 3, _PATCH, _PATCH))
    w.add_tensor("v.patch_embd.bias", zeros(width))
    w.add_tensor("v.position_embd.weight", f16(_POS_ROWS, width))
    fc1, fc2 = ("ffn_down", "ffn_up") if legacy_ffn_names else ("ffn_up", "ffn_down")
    for i in range(blocks):
        p = f"v.blk.{i}."
        for ln in ("ln1", "ln2"):
            w.add_tensor(p + ln + ".weight", ones(width))
            w.add_tensor(p + ln + ".bias", zeros(width))
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            w.add_tensor(p + name + ".weight", f16(width, width))
            w.add_tensor(p + name + ".bias", zeros(width))
        w.add_tensor(p + fc1 + ".weight", f16(ffn, width))
        w.add_tensor(p + fc1 + ".bias", zeros(ffn))
        w.add_tensor(p + fc2 + ".weight", f16(width, ffn))
        w.add_tensor(p + fc2 + ".bias", zeros(width))
    w.add_tensor("v.post_ln.weight", ones(width))
    w.add_tensor("v.post_ln.bias", zeros(width))


def finish(w) -> None:
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
