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
        # the template writes the record's answer prefix wherever a new answer opens
        assert gen.ollama_template.count("<|im_start|>assistant\n" + gen.answer_prefix + "{{") == 2


def test_default_system_prompts_follow_each_template():
    # 2.6: Qwen2-Instruct's default; o-2.6/4.0 unconfirmed, kept; Qwen3/3.5 and Llama 3 add none.
    assert {g.id: g.system for g in SUPPORTED} == {
        "2.5": None, "2.6": "You are a helpful assistant.", "o-2.6": "You are a helpful assistant.",
        "4.0": "You are a helpful assistant.", "4.5": None, "4.6": None,
    }


@pytest.mark.parametrize("gen", SUPPORTED, ids=lambda g: g.id)
def test_sampling_budget_and_files(gen):
    assert (gen.sampling.temperature, gen.sampling.top_p, gen.sampling.top_k, gen.sampling.repeat_penalty) == (
        0.7, 0.8, 100, 1.05,
    )
    assert gen.max_pixels == 9 * 448 * 448
    assert 0 < gen.num_ctx <= gen.context_length
    assert gen.tokens_per_slice == (96 if gen.id == "2.5" else 64)
    assert gen.hf_repo.startswith("openbmb/")
    assert gen.thinking == ("qwen3-hybrid" if gen.id == "4.5" else "none")


@pytest.mark.parametrize("gen", SUPPORTED, ids=lambda g: g.id)
def test_licenses(gen):
    main = gen.licenses[0]
    assert (main.name, main.url) == ("Apache License 2.0", "https://github.com/OpenBMB/MiniCPM-V/blob/main/LICENSE")
    assert all(term.url.startswith("https://") for term in gen.licenses)
    llama = [term for term in gen.licenses if "Llama" in term.name]
    assert bool(llama) == (gen.id == "2.5")
    if llama:
        assert llama[0].notice.startswith("Meta Llama 3 is licensed under the Meta Llama 3 Community License")


def test_published_names_and_facts():
    assert (get("4.0").hf_repo, get("4.6").hf_repo) == ("openbmb/MiniCPM-V-4-gguf", "openbmb/MiniCPM-V-4.6-gguf")
    assert [(g.id, g.llm_arch, g.minicpmv_version) for g in SUPPORTED] == [
        ("2.5", "llama", 2), ("2.6", "qwen2", 3), ("o-2.6", "qwen2", 4),
        ("4.0", "minicpm", 5), ("4.5", "qwen3", 6), ("4.6", "qwen35", None),
    ]
    assert get("4.6").projector_type == "minicpmv4_6" and get("4.6").n_embd == 1024
    assert [g.ollama_registry_model for g in SUPPORTED if g.ollama_registry_model] == [
        "minicpm-v", "openbmb/minicpm-v4", "openbmb/minicpm-v4.5", "openbmb/minicpm-v4.6",
    ]


def test_by_projector_lookup():
    assert [g.id for g in generations.by_projector("resampler", 6)] == ["4.5"]
    assert [g.id for g in generations.by_projector("minicpmv4_6", None)] == ["4.6"]
    assert generations.by_projector("resampler", 99) == ()


def test_only_45_switches_thinking():
    template = get("4.5").ollama_template
    assert "$.Think" in template and "<think>{{ .Thinking }}</think>" in template
    assert all(".Think" not in g.ollama_template for g in GENERATIONS if g.id != "4.5")


def test_think_prefill_is_data():
    # 4.6 Instruct always opens its answer with the empty block; 4.5 only while thinking is off
    assert [(g.id, g.answer_prefix) for g in SUPPORTED if g.answer_prefix] == [("4.6", generations.EMPTY_THINK_BLOCK)]
    assert all(not (g.answer_prefix and g.thinking != "none") for g in GENERATIONS)


def test_passthrough_parser_wherever_ollama_need_not_split_thinking():
    # PARSER keeps Ollama on the TEMPLATE (not the GGUF chat template); 4.5 needs
    # Ollama's own thinking split, which a parser would replace.
    assert {g.id: g.ollama_parser for g in SUPPORTED} == {
        "2.5": "passthrough", "2.6": "passthrough", "o-2.6": "passthrough",
        "4.0": "passthrough", "4.5": None, "4.6": "passthrough",
    }


def test_message_layout_puts_images_first_one_per_line():
    assert generations.lay_out_message("text", ["A", "B"]) == ["A", "\n", "B", "\n", "text"]
    assert generations.lay_out_message("", ["A"]) == ["A"]
    assert generations.lay_out_message("text", []) == ["text"]
    assert generations.ollama_message_content("Both?", 2) == "[img]\n[img]\nBoth?"
    assert generations.ollama_message_content("", 1) == "[img]"
