"""The packaging room's pair sources: a pair answers only for the model name that is it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcv.core.config import load_config
from mcv.core.local_pairs import CORE_SOURCES, LocalPair, find_pair
from mcv.errors import InputError
from mcv.modelfile.generations import SUPPORTED, get
from mcv.modelfile.identify import validate_pair
from mcv.packaging import local_pairs
from mcv.packaging.create import target_names
from mcv.packaging.hf_fetch import fetch_pair, hub_pair
from support.ollama_store import write_store_model
from mcv.packaging.local_pairs import (
    HF_CACHE,
    OLLAMA_STORE,
    PairRequest,
    from_hf_cache,
    from_ollama_store,
    pair_request,
)

REPO_25 = "openbmb/MiniCPM-Llama3-V-2_5-gguf"
REPO_26 = "openbmb/MiniCPM-V-2_6-gguf"
REPO_46 = "openbmb/MiniCPM-V-4.6-gguf"


@pytest.fixture
def environ(hf_environ, tmp_path):
    return {**hf_environ, "MCV_STATE_DIR": str(tmp_path / "state"), "OLLAMA_MODELS": str(tmp_path / "ollama")}


def cache_pair(hub, environ, generation, repo, pair, llm_name, projector_name, quant=None) -> tuple[Path, Path]:
    """Serve `pair` under those names, fetch it into the HF cache as `mcv model fetch` does."""
    hub.add_path(repo, llm_name, pair[0])
    hub.add_path(repo, projector_name, pair[1])
    fetched = fetch_pair(hub_pair(generation, quant, environ), environ)
    return fetched.llm, fetched.projector


def store_model(models: Path, name_path: str, pair, *, projector: bool = True) -> tuple[Path, Path]:
    return write_store_model(models, name_path, pair[0], pair[1] if projector else None)


def test_every_generation_on_ollama_com_names_its_pair():
    for record in SUPPORTED:
        if record.ollama_registry_model and record.ollama_registry_model != "minicpm-v":
            assert pair_request(record.ollama_registry_model) == PairRequest(record.id, None)
    assert pair_request(get("2.6").ollama_registry_model) == PairRequest(None, None)  # minicpm-v: the default name


def test_sources_in_order():
    assert [s.name for s in local_pairs.SOURCES] == [OLLAMA_STORE, HF_CACHE] == ["ollama store", "hugging face cache"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("minicpm-v", PairRequest(None, None)),
        ("MiniCPM-V:latest", PairRequest(None, None)),
        ("registry.ollama.ai/library/minicpm-v", PairRequest(None, None)),
        ("minicpm-v:2.5-q4_K_M", PairRequest("2.5", "Q4_K_M")),
        ("MINICPM-V:2.5-Q4_K_M", PairRequest("2.5", "Q4_K_M")),
        ("minicpm-v:o-2.6-q8_0", PairRequest("o-2.6", "Q8_0")),
        ("minicpm-v:2.6-fp16", PairRequest("2.6", "F16")),
        ("minicpm-v:4.6-fp32", PairRequest("4.6", "F32")),
        ("minicpm-v:4.5-bf16", PairRequest("4.5", "BF16")),
        ("openbmb/minicpm-v4.5", PairRequest("4.5", None)),
        ("OpenBMB/MiniCPM-V4.6:latest", PairRequest("4.6", None)),
        ("llava:13b", None),
        ("qwen2.5vl", None),
        ("minicpm-v:2.0-q4_K_M", None),  # refused generation
        ("minicpm-v:2.5", None),
        ("minicpm-v:8b", None),
        ("openbmb/minicpm-v4.5:8b", None),
        ("minicpm-v4.5", None),  # ollama.com has it under openbmb/ only
        ("openbmb/minicpm-v:2.5-q4_K_M", None),
        ("a/b/c/d", None),
        ("not a name", None),
    ],
)
def test_which_names_are_mcvs(name, expected):
    assert pair_request(name) == expected


def test_llava_finds_nothing_even_with_a_25_pair_in_the_cache(hf_server, environ, tiny_pair_25):
    llm, projector = cache_pair(hf_server, environ, "2.5", REPO_25, tiny_pair_25, "ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    everything, config = (*CORE_SOURCES, *local_pairs.SOURCES), load_config(environ)
    for other in ("llava:13b", "qwen2.5vl", "minicpm-v:2.6-q4_K_M", "minicpm-v:2.5-q8_0", "openbmb/minicpm-v4.5"):
        assert from_hf_cache(other, environ) is None, other
        assert find_pair(other, everything, environ, config) is None, other
    for name in ("minicpm-v", "minicpm-v:latest", "MiniCPM-V", "minicpm-v:2.5-q4_K_M", "minicpm-v:2.5-Q4_K_M"):
        assert from_hf_cache(name, environ) == LocalPair(llm, projector, HF_CACHE), name
        assert find_pair(name, everything, environ, config) == LocalPair(llm, projector, HF_CACHE), name


def test_the_name_model_create_gives_finds_the_pair(hf_server, environ, tiny_pair_factory):
    """Round trip: `mcv model create` names a fetched pair; that name finds it again."""
    f16 = tiny_pair_factory("2.6", quant_label="F16")
    cached = cache_pair(hf_server, environ, "2.6", REPO_26, f16, "ggml-model-F16.gguf", "mmproj-model-f16.gguf", "fp16")
    precise, everyday = target_names(None, validate_pair(*cached))
    assert (precise, everyday) == ("minicpm-v:2.6-fp16", "minicpm-v:latest")
    for name in (precise, everyday, "minicpm-v:2.6-FP16"):
        assert from_hf_cache(name, environ) == LocalPair(*cached, HF_CACHE)
    assert from_hf_cache("minicpm-v:2.6-q4_K_M", environ) is None


def test_both_46_naming_styles_by_tag_and_by_library_name(hf_server, environ, tiny_pair_factory):
    pair = tiny_pair_factory("4.6", quant_label="Q8_0")
    # ggml-org's names: a Q8_0 projector, the LLM named with a dot.
    cached = cache_pair(hf_server, environ, "4.6", REPO_46, pair, "MiniCPM-V-4.6-Q8_0.gguf", "mmproj-MiniCPM-V-4.6-Q8_0.gguf", "Q8_0")
    assert target_names(None, validate_pair(*cached))[0] == "minicpm-v:4.6-q8_0"
    assert from_hf_cache("minicpm-v:4.6-q8_0", environ) == LocalPair(*cached, HF_CACHE)
    assert from_hf_cache(get("4.6").ollama_registry_model, environ) == LocalPair(*cached, HF_CACHE)  # any quant
    assert from_hf_cache("minicpm-v", environ) == LocalPair(*cached, HF_CACHE)  # the only generation cached
    assert from_hf_cache("minicpm-v:4.6-q4_K_M", environ) is None


def test_openbmb_46_names_and_the_default_generation_first(hf_server, environ, tiny_pair_factory, tiny_pair_25):
    pair_46 = tiny_pair_factory("4.6")
    cached_46 = cache_pair(hf_server, environ, "4.6", REPO_46, pair_46, "MiniCPM-V-4_6-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    assert from_hf_cache("minicpm-v:4.6-q4_K_M", environ) == LocalPair(*cached_46, HF_CACHE)
    assert from_hf_cache("minicpm-v", environ) == LocalPair(*cached_46, HF_CACHE)
    cached_25 = cache_pair(hf_server, environ, "2.5", REPO_25, tiny_pair_25, "ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    assert from_hf_cache("minicpm-v", environ) == LocalPair(*cached_25, HF_CACHE)  # 2.5 is the default
    assert from_hf_cache("openbmb/minicpm-v4.6", environ) == LocalPair(*cached_46, HF_CACHE)


def test_ollama_store_answers_for_exactly_its_model(environ, tiny_pair_25, tiny_pair_26):
    models = Path(environ["OLLAMA_MODELS"])
    llm, projector = store_model(models, "registry.ollama.ai/library/minicpm-v/2.6-q4_K_M", tiny_pair_26)
    store_model(models, "registry.ollama.ai/library/llava/13b", tiny_pair_25)
    store_model(models, "registry.ollama.ai/library/llama3/latest", tiny_pair_25, projector=False)
    for name in ("minicpm-v:2.6-q4_K_M", "MiniCPM-V:2.6-Q4_K_M"):
        assert from_ollama_store(name, environ) == LocalPair(llm, projector, OLLAMA_STORE)
    assert from_ollama_store("llava:13b", environ).source == OLLAMA_STORE  # any model Ollama has, by its name
    assert from_ollama_store("minicpm-v", environ) is None  # :latest is another model
    assert from_ollama_store("llama3", environ) is None  # text only: no pair
    assert from_ollama_store("nonesuch", environ) is None


def test_store_comes_before_the_cache_and_a_broken_store_says_so(hf_server, environ, tiny_pair_25, tiny_pair_26):
    cache_pair(hf_server, environ, "2.5", REPO_25, tiny_pair_25, "ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    models = Path(environ["OLLAMA_MODELS"])
    llm, projector = store_model(models, "registry.ollama.ai/library/minicpm-v/latest", tiny_pair_26)
    found = find_pair("minicpm-v", local_pairs.SOURCES, environ, config=None)
    assert found == LocalPair(llm, projector, OLLAMA_STORE)
    llm.unlink()  # the manifest now lists a missing blob
    with pytest.raises(InputError, match="is missing"):
        find_pair("minicpm-v", local_pairs.SOURCES, environ, config=None)


@pytest.mark.parametrize(
    "name, advice",
    [
        ("minicpm-v", "download it with `mcv model fetch`"),
        ("minicpm-v:2.6-q4_K_M", "download it with `mcv model fetch 2.6 --quant Q4_K_M`"),
        ("openbmb/minicpm-v4.5", "download it with `mcv model fetch 4.5`"),
        ("llava:13b", None),
    ],
)
def test_the_cache_source_says_how_to_get_the_pair_a_name_means(name, advice):
    from mcv.packaging.local_pairs import SOURCES, fetch_command

    assert fetch_command(name) == advice
    assert SOURCES[1].how_to_get is fetch_command
