"""Classification, generation identification and pair validation."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest

from mcv.errors import InputError
from mcv.modelfile import generations
from mcv.modelfile.gguf_meta import GGUFMeta, ValueType, read_metadata
from mcv.modelfile.identify import (
    ADAPTER, LLM, PROJECTOR, classify, find_pair_in_dir, find_partner, identify_generation,
    projector_output_width, quant_label, validate_pair,
)
from mcv.selftest.tinypair import write_pair

SUPPORTED_IDS = [g.id for g in generations.SUPPORTED]


def _meta(kv: dict, types: dict, name: str = "x.gguf") -> GGUFMeta:
    return GGUFMeta(Path(name), 3, 0, 0, len(kv), kv, {k: (t, None) for k, t in types.items()}, (), 32)


def _one_line_error(fn, *args) -> str:
    with pytest.raises(InputError) as exc:
        fn(*args)
    message = str(exc.value)
    assert "\n" not in message
    return message


# --- classify -------------------------------------------------------------------


@pytest.mark.parametrize("gen_id", SUPPORTED_IDS)
def test_classify_tiny_pairs(tiny_pair_factory, gen_id):
    llm, mmproj = tiny_pair_factory(gen_id)
    assert classify(read_metadata(llm)) == LLM
    assert classify(read_metadata(mmproj)) == PROJECTOR


def test_classify_follows_ollama_rules():
    U, S, B = ValueType.UINT32, ValueType.STRING, ValueType.BOOL
    assert classify(_meta({"general.type": "adapter"}, {"general.type": S})) == ADAPTER
    assert classify(_meta({"general.type": "mmproj"}, {"general.type": S})) == PROJECTOR
    assert classify(_meta({"general.type": "projector"}, {"general.type": S})) == PROJECTOR
    # <arch>.vision.block_count without <arch>.block_count: a standalone vision model
    kv = {"general.architecture": "foo", "foo.vision.block_count": 3}
    assert classify(_meta(kv, {"general.architecture": S, "foo.vision.block_count": U})) == PROJECTOR
    kv["foo.block_count"] = 2
    assert classify(_meta(kv, {"general.architecture": S, "foo.vision.block_count": U, "foo.block_count": U})) == LLM
    clip = {"general.architecture": "clip", "clip.has_vision_encoder": True}
    clip_types = {"general.architecture": S, "clip.has_vision_encoder": B}
    assert classify(_meta(clip, clip_types)) == PROJECTOR
    assert classify(_meta({**clip, "clip.has_vision_encoder": False}, clip_types)) == LLM
    with_blocks = _meta({**clip, "clip.block_count": 4}, {**clip_types, "clip.block_count": U})
    assert classify(with_blocks) == LLM
    # Ollama's kv.Uint only sees uint32: a block_count stored as int32 counts as 0
    as_int32 = _meta({**clip, "clip.block_count": 4}, {**clip_types, "clip.block_count": ValueType.INT32})
    assert classify(as_int32) == PROJECTOR
    # bool stored as uint8 is not a bool for Ollama
    assert classify(_meta({**clip, "clip.has_vision_encoder": 1}, {**clip_types, "clip.has_vision_encoder": ValueType.UINT8})) == LLM
    assert classify(_meta({}, {})) == LLM


# --- identification ---------------------------------------------------------------


@pytest.mark.parametrize("gen_id", SUPPORTED_IDS)
def test_every_generation_identified_either_order(tiny_pair_factory, gen_id):
    llm, mmproj = tiny_pair_factory(gen_id)
    for a, b in ((llm, mmproj), (mmproj, llm)):
        pair = validate_pair(a, b)
        assert pair.generation.id == gen_id
        assert (pair.llm, pair.projector) == (llm, mmproj)
        assert pair.quant == "Q4_K_M" and pair.n_embd == 128
    assert find_pair_in_dir(llm.parent) == (llm, mmproj)


def test_missing_version_key_means_25(tmp_path):
    llm, mmproj = write_pair(tmp_path, "2.5", omit_version_key=True)
    assert validate_pair(llm, mmproj).generation.id == "2.5"


def test_version_6_needs_qwen3(tmp_path):
    llm, mmproj = write_pair(tmp_path, "4.5", llm_arch="minicpm")
    message = _one_line_error(validate_pair, llm, mmproj)
    assert "MiniCPM-o 4.0" in message and str(llm) in message and str(mmproj) in message


def test_25_vs_45_same_width_told_apart_by_arch(tmp_path):
    a = write_pair(tmp_path / "a", "2.5", n_embd=256)
    b = write_pair(tmp_path / "b", "4.5", n_embd=256)
    assert validate_pair(*a).generation.id == "2.5"
    assert validate_pair(*b).generation.id == "4.5"


def test_two_llms_two_projectors(tiny_pair_factory):
    llm25, mm25 = tiny_pair_factory("2.5")
    llm26, mm26 = tiny_pair_factory("2.6")
    assert "both files are LLMs" in _one_line_error(validate_pair, llm25, llm26)
    assert "both files are projectors" in _one_line_error(validate_pair, mm25, mm26)
    assert "same file was given twice" in _one_line_error(validate_pair, llm25, llm25)


def test_width_mismatch(tmp_path):
    llm, mmproj = write_pair(tmp_path, "2.6", projector_n_embd=256)
    message = _one_line_error(validate_pair, llm, mmproj)
    assert "LLM width 128 does not match the projector output width 256" in message


def test_unknown_version(tmp_path):
    llm, mmproj = write_pair(tmp_path, "2.6", minicpmv_version=99)
    message = _one_line_error(validate_pair, llm, mmproj)
    assert message.startswith(str(mmproj)) and "clip.minicpmv_version 99" in message
    llm, mmproj = write_pair(tmp_path / "o45", "4.5", minicpmv_version=100045)
    assert "MiniCPM-o 4.5" in _one_line_error(validate_pair, llm, mmproj)


def test_20_refused(tiny_pair_factory):
    message = _one_line_error(validate_pair, *tiny_pair_factory("2.0"))
    assert "MiniCPM-V 2.0" in message and "not supported" in message


def test_inconsistent_generation(tiny_pair_factory):
    llm25, _ = tiny_pair_factory("2.5")
    _, mm26 = tiny_pair_factory("2.6")
    message = _one_line_error(validate_pair, llm25, mm26)
    assert "MiniCPM-V 2.6" in message and "'llama'" in message and "qwen2" in message
    _, mm46 = tiny_pair_factory("4.6")
    assert "'llama'" in _one_line_error(validate_pair, llm25, mm46)


def _patch_bytes(src: Path, dst: Path, old: bytes, new: bytes) -> Path:
    data = src.read_bytes()
    assert data.count(old) == 1 and len(old) == len(new)
    dst.write_bytes(data.replace(old, new))
    return dst


def test_uint32_version_key_refused(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.6")
    key = b"clip.minicpmv_version"
    old = key + struct.pack("<Ii", 5, 3)
    bad = _patch_bytes(mmproj, tmp_path / "mmproj.gguf", old, key + struct.pack("<II", 4, 3))
    assert "stored as uint32" in _one_line_error(validate_pair, llm, bad)


def test_foreign_projectors(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.6")
    ptype = b"clip.projector_type" + struct.pack("<IQ", 8, 9) + b"resampler"
    mlp = _patch_bytes(mmproj, tmp_path / "mlp.gguf", ptype, b"clip.projector_type" + struct.pack("<IQ", 8, 9) + b"mlp______")
    assert "'mlp______' is not MiniCPM-V" in _one_line_error(validate_pair, llm, mlp)
    nokey = _patch_bytes(mmproj, tmp_path / "nokey.gguf", b"clip.projector_type", b"clip.projector_typX")
    assert "no clip.projector_type" in _one_line_error(validate_pair, llm, nokey)


def test_adapter_refused(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.5")
    # general.type "model" -> "adapter" is longer; rewrite the tiny LLM with gguf instead
    import gguf

    path = tmp_path / "lora.gguf"
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_type("adapter")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    assert "LoRA adapter" in _one_line_error(validate_pair, path, mmproj)


def test_truncated_download(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.6")
    cut = tmp_path / llm.name
    cut.write_bytes(llm.read_bytes()[:-5000])
    message = _one_line_error(validate_pair, cut, mmproj)
    assert message.startswith(str(cut)) and "incomplete download" in message


def test_identify_generation_directly(tiny_pair_factory):
    llm, mmproj = tiny_pair_factory("o-2.6")
    assert identify_generation(read_metadata(llm), read_metadata(mmproj)).id == "o-2.6"
    assert projector_output_width(read_metadata(mmproj)) == 128
    assert projector_output_width(read_metadata(llm)) is None


# --- quantisation label -------------------------------------------------------------


def test_quant_label_from_file_type_then_name():
    U = ValueType.UINT32
    assert quant_label(_meta({"general.file_type": 15}, {"general.file_type": U})) == "Q4_K_M"
    assert quant_label(_meta({"general.file_type": 7}, {"general.file_type": U})) == "Q8_0"
    assert quant_label(_meta({"general.file_type": 1}, {"general.file_type": U})) == "F16"
    assert quant_label(_meta({"general.file_type": 1024 + 18}, {"general.file_type": U})) == "Q6_K"
    assert quant_label(_meta({"general.file_type": 999}, {"general.file_type": U}, "Model-7.6B-Q5_K_M.gguf")) == "Q5_K_M"
    assert quant_label(_meta({}, {}, "ggml-model-f16.gguf")) == "F16"
    assert quant_label(_meta({}, {}, "ggml-model-IQ3_M.gguf")) == "IQ3_M"
    assert quant_label(_meta({}, {}, "ggml-model-q4_0.gguf")) == "Q4_0"
    assert quant_label(_meta({}, {}, "model.gguf")) is None


def test_file_type_matches_gguf_enum():
    import gguf

    from mcv.modelfile.identify import FILE_TYPES

    for member in gguf.LlamaFileType:
        if member.value in FILE_TYPES:
            expected = "F32" if member.name == "ALL_F32" else member.name.removeprefix("MOSTLY_")
            assert FILE_TYPES[member.value] == expected


# --- find_pair_in_dir ---------------------------------------------------------------


def test_find_pair_in_dir_errors(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.6")
    assert "not a directory" in _one_line_error(find_pair_in_dir, llm)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("hi")
    assert "no .gguf files" in _one_line_error(find_pair_in_dir, empty)
    only_llm = tmp_path / "only_llm"
    only_llm.mkdir()
    shutil.copy(llm, only_llm)
    assert "no projector" in _one_line_error(find_pair_in_dir, only_llm)
    only_mm = tmp_path / "only_mm"
    only_mm.mkdir()
    shutil.copy(mmproj, only_mm)
    assert "no LLM" in _one_line_error(find_pair_in_dir, only_mm)
    two = tmp_path / "two"
    two.mkdir()
    shutil.copy(llm, two / "a-Q4_K_M.gguf")
    shutil.copy(llm, two / "b-Q8_0.gguf")
    shutil.copy(mmproj, two)
    assert "several LLM files (a-Q4_K_M.gguf, b-Q8_0.gguf)" in _one_line_error(find_pair_in_dir, two)
    shutil.copy(mmproj, two / "mmproj-2.gguf")
    assert "several projectors" in _one_line_error(find_pair_in_dir, two)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.gguf").write_bytes(b"nope")
    assert "bad magic" in _one_line_error(find_pair_in_dir, bad)


def test_find_partner_passes_over_a_broken_gguf_beside_the_pair(tiny_pair_factory, tmp_path):
    # `mcv ask -m LLM.gguf`: a partial download of another quant in the folder must not hide the pair
    llm, mmproj = tiny_pair_factory("2.6")
    shutil.copy(llm, tmp_path / llm.name)
    shutil.copy(mmproj, tmp_path / mmproj.name)
    (tmp_path / "other-Q8_0.gguf").write_bytes(llm.read_bytes()[:1000])
    assert find_partner(tmp_path / llm.name) == (tmp_path / llm.name, tmp_path / mmproj.name)
    (tmp_path / mmproj.name).unlink()
    message = _one_line_error(find_partner, tmp_path / llm.name)
    assert "no projector (mmproj) .gguf beside it" in message and "other-Q8_0.gguf" in message


def test_missing_version_key_with_a_qwen_llm_explains_the_default(tmp_path):
    llm, mmproj = write_pair(tmp_path, "2.6", omit_version_key=True)
    message = _one_line_error(validate_pair, llm, mmproj)
    assert "MiniCPM-Llama3-V 2.5 (it has no clip.minicpmv_version, which llama.cpp reads as 2)" in message


def test_pair_is_hashable(tiny_pair_factory):
    pair = validate_pair(*tiny_pair_factory("2.5"))
    assert pair in {pair}
