"""The generation table: complete, consistent, and free of image tokens."""

from __future__ import annotations

import dataclasses

import pytest

from mcv.errors import InputError
from mcv.modelfile import generations
from mcv.modelfile.generations import GENERATIONS, SUPPORTED, get


def test_ids_and_support():
    assert [g.id for g in GENERATIONS] == ["2.0", "2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6"]
    assert [g.id for g in SUPPORTED] == ["2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6"]
    assert get("2.0").refused and "not supported" in get("2.0").refused
    assert all(g.refused is None for g in SUPPORTED)
    with pytest.raises(InputError, match="unknown MiniCPM-V generation '3.1'"):
        get("3.1")


def test_records_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get("2.5").num_ctx = 1  # type: ignore[misc]


@pytest.mark.parametrize("gen", GENERATIONS, ids=lambda g: g.id)
def test_template_has_no_image_tokens_and_matches_format(gen):
    for token in ("<image>", "</image>", "<slice>", "</slice>", "<image_id>", "[img"):
        assert token not in gen.ollama_template
    assert ".Messages" in gen.ollama_template
    if gen.chat_format == "llama3":
        assert "<|eot_id|>" in gen.stop and "<|end_of_text|>" in gen.stop
        assert "<|start_header_id|>" in gen.ollama_template and gen.system is None
    else:
        assert gen.chat_format == "chatml"
        assert gen.stop[:2] == ("<|im_start|>", "<|im_end|>") and "<|endoftext|>" in gen.stop
        assert "<|im_start|>" in gen.ollama_template
        assert gen.system == "You are a helpful assistant."


@pytest.mark.parametrize("gen", SUPPORTED, ids=lambda g: g.id)
def test_sampling_budget_and_files(gen):
    assert (gen.sampling.temperature, gen.sampling.top_p, gen.sampling.top_k, gen.sampling.repeat_penalty) == (
        0.7, 0.8, 100, 1.05,
    )
    assert gen.max_pixels == 9 * 448 * 448
    assert 0 < gen.num_ctx <= gen.context_length
    assert gen.tokens_per_slice == (96 if gen.id == "2.5" else 64)
    assert "Q4_K_M" in gen.quants and gen.hf_files["Q4_K_M"] == gen.llm_file("Q4_K_M")
    assert gen.hf_files["mmproj"] == gen.mmproj_file and gen.mmproj_file.startswith("mmproj")
    assert gen.hf_repo.startswith("openbmb/") and gen.license_url.startswith("https://")
    assert gen.thinking == ("qwen3-hybrid" if gen.id == "4.5" else "none")


def test_published_names_and_facts():
    assert get("2.5").hf_files["Q4_K_M"] == "ggml-model-Q4_K_M.gguf"
    assert get("o-2.6").llm_file("Q8_0") == "Model-7.6B-Q8_0.gguf"
    assert get("4.0").llm_file("Q4_K_M") == "Model-3.6B-Q4_K_M.gguf"
    assert get("4.6").hf_files == {"Q4_K_M": "MiniCPM-V-4.6-Q4_K_M.gguf", "mmproj": "mmproj-MiniCPM-V-4.6-F16.gguf"}
    assert [(g.id, g.llm_arch, g.minicpmv_version) for g in SUPPORTED] == [
        ("2.5", "llama", 2), ("2.6", "qwen2", 3), ("o-2.6", "qwen2", 4),
        ("4.0", "minicpm", 5), ("4.5", "qwen3", 6), ("4.6", "qwen35", None),
    ]
    assert get("4.6").projector_type == "minicpmv4_6" and get("4.6").n_embd is None
    assert [g.ollama_library for g in SUPPORTED if g.ollama_library] == ["minicpm-v", "minicpm-v4.5", "minicpm-v4.6"]


def test_by_projector_lookup():
    assert [g.id for g in generations.by_projector("resampler", 6)] == ["4.5"]
    assert [g.id for g in generations.by_projector("minicpmv4_6", None)] == ["4.6"]
    assert generations.by_projector("resampler", 99) == ()


def test_only_45_switches_thinking():
    template = get("4.5").ollama_template
    assert "$.Think" in template and "<think>{{ .Thinking }}</think>" in template
    assert all(".Think" not in g.ollama_template for g in GENERATIONS if g.id != "4.5")
