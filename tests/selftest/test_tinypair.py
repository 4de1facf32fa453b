"""Tiny pairs carry the real files' keys, types, names and vocab; llama.cpp runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mcv.modelfile import generations
from mcv.selftest.tinypair import GENERATION_IDS, write_pair

gguf = pytest.importorskip("gguf")
T = gguf.GGUFValueType


def _kv(path):
    reader = gguf.GGUFReader(path)
    out = {}
    for field in reader.fields.values():
        if field.name.startswith("GGUF."):
            continue
        out[field.name] = (field.types[0], field.contents())
    return reader, out


EXPECTED_ARCH = {"2.0": "minicpm", "2.5": "llama", "2.6": "qwen2", "o-2.6": "qwen2", "4.0": "minicpm", "4.5": "qwen3", "4.6": "qwen35"}
EXPECTED_VERSION = {"2.0": 1, "2.5": 2, "2.6": 3, "o-2.6": 4, "4.0": 5, "4.5": 6}


@pytest.mark.parametrize("gen_id", GENERATION_IDS)
def test_llm_keys_vocab_and_names(tiny_pair_factory, gen_id):
    llm, mmproj = tiny_pair_factory(gen_id)
    gen = generations.get(gen_id)
    assert (llm.name, mmproj.name) == ("ggml-model-Q4_K_M.gguf", "mmproj-model-f16.gguf")
    reader, kv = _kv(llm)
    arch = EXPECTED_ARCH[gen_id]
    assert kv["general.architecture"] == (T.STRING, arch)
    assert kv["general.file_type"] == (T.UINT32, 15)  # Q4_K_M
    assert kv["general.quantization_version"] == (T.UINT32, 2)
    for key in ("context_length", "embedding_length", "block_count", "attention.head_count"):
        assert kv[f"{arch}.{key}"][0] == T.UINT32
    assert kv[f"{arch}.embedding_length"][1] == 128
    assert kv[f"{arch}.attention.layer_norm_rms_epsilon"][0] == T.FLOAT32
    tokens = kv["tokenizer.ggml.tokens"][1]
    types = kv["tokenizer.ggml.token_type"][1]
    for piece in ("<image>", "</image>", "<slice>", "</slice>"):
        assert types[tokens.index(piece)] == 3
    if gen_id != "2.5" and gen_id != "2.0":
        assert "<image_id>" in tokens and "</image_id>" in tokens
    else:
        assert "<image_id>" not in tokens
    if gen.chat_format == "llama3":
        for piece in ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"):
            assert types[tokens.index(piece)] == 3
        assert tokens[kv["tokenizer.ggml.bos_token_id"][1]] == "<|begin_of_text|>"
    else:
        for piece in ("<|im_start|>", "<|im_end|>", "<|endoftext|>"):
            assert types[tokens.index(piece)] == 3
        assert tokens[kv["tokenizer.ggml.eos_token_id"][1]] == "<|im_end|>"
    assert ("<think>" in tokens) == (gen_id in ("4.5", "4.6"))
    if kv["tokenizer.ggml.model"][1] == "gpt2":
        assert "Ċ" in tokens and len(kv["tokenizer.ggml.merges"][1]) >= 1
        assert all(t in tokens for t in ("Ġ", "!", "ÿ"))
    else:  # SentencePiece (MiniCPM LLMs): byte tokens carry the newline
        assert "<0x0A>" in tokens and len(kv["tokenizer.ggml.scores"][1]) == len(tokens)
    assert "tokenizer.chat_template" in kv
    assert reader.tensors[0].name == "token_embd.weight"


@pytest.mark.parametrize("gen_id", [g for g in GENERATION_IDS if g != "4.6"])
def test_resampler_mmproj_layout(tiny_pair_factory, gen_id):
    _, mmproj = tiny_pair_factory(gen_id)
    reader, kv = _kv(mmproj)
    assert kv["general.architecture"] == (T.STRING, "clip")
    assert kv["clip.projector_type"] == (T.STRING, "resampler")
    assert kv["clip.minicpmv_version"] == (T.INT32, EXPECTED_VERSION[gen_id])
    assert kv["clip.has_vision_encoder"] == (T.BOOL, True)
    assert kv["clip.has_minicpmv_projector"] == (T.BOOL, True)
    assert kv["general.description"] == (T.STRING, "image encoder for MiniCPM-V")
    for key in ("embedding_length", "feed_forward_length", "block_count", "projection_dim",
                "attention.head_count", "image_size", "patch_size"):
        assert kv[f"clip.vision.{key}"][0] == T.UINT32, key
    assert kv["clip.vision.attention.layer_norm_epsilon"][0] == T.FLOAT32
    assert kv["clip.vision.image_mean"] == (T.ARRAY, [0.5, 0.5, 0.5])
    assert "clip.block_count" not in kv  # Ollama would not call it a projector otherwise
    shapes = {t.name: list(t.shape) for t in reader.tensors}
    assert shapes["v.position_embd.weight"][1] >= 4900
    assert shapes["resampler.proj.weight"] == [128, 128]
    assert shapes["resampler.query"] == [128, generations.get(gen_id).tokens_per_slice]
    # legacy converter naming: fc1 (width -> ffn) is stored as ffn_down
    assert shapes["v.blk.0.ffn_down.weight"] == [64, 256]
    # 2.5 real file has 18 KVs without the version key; ours adds the version key only
    if gen_id == "2.5":
        assert len(kv) == 19


def test_25_without_version_key_matches_published_kv_count(tmp_path):
    _, mmproj = write_pair(tmp_path, "2.5", omit_version_key=True)
    _, kv = _kv(mmproj)
    assert "clip.minicpmv_version" not in kv
    assert len(kv) == 18  # llama.cpp PR #7599 load log of the published file


def test_46_mmproj_layout(tiny_pair_factory):
    _, mmproj = tiny_pair_factory("4.6")
    reader, kv = _kv(mmproj)
    assert kv["clip.projector_type"] == (T.STRING, "minicpmv4_6")
    assert "clip.minicpmv_version" not in kv
    assert kv["general.type"] == (T.STRING, "mmproj")
    assert kv["clip.vision.projector.scale_factor"] == (T.UINT32, 4)
    assert kv["clip.vision.projection_dim"] == (T.UINT32, 128)
    shapes = {t.name: list(t.shape) for t in reader.tensors}
    assert shapes["mm.down.weight"][1] == 128
    assert "v.vit_merger.attn_q.weight" in shapes


def test_bad_pair_parameters(tmp_path):
    llm, mmproj = write_pair(tmp_path, "2.6", projector_n_embd=256, minicpmv_version=99, llm_arch="llama")
    _, llm_kv = _kv(llm)
    reader, mm_kv = _kv(mmproj)
    assert llm_kv["general.architecture"][1] == "llama"
    assert mm_kv["clip.minicpmv_version"] == (T.INT32, 99)
    assert {t.name: list(t.shape) for t in reader.tensors}["resampler.proj.weight"] == [256, 256]


def test_deterministic_and_named(tmp_path):
    a = write_pair(tmp_path / "a", "2.5", seed=3, llm_name="x.gguf", mmproj_name="y.gguf", quant_label="Q8_0")
    b = write_pair(tmp_path / "b", "2.5", seed=3, llm_name="x.gguf", mmproj_name="y.gguf", quant_label="Q8_0")
    assert [p.name for p in a] == ["x.gguf", "y.gguf"]
    assert a[0].read_bytes() == b[0].read_bytes() and a[1].read_bytes() == b[1].read_bytes()
    _, kv = _kv(a[0])
    assert kv["general.file_type"][1] == 7
    assert write_pair(tmp_path / "c", "2.5", quant_label="F16")[0].name == "ggml-model-F16.gguf"


def test_rejects_unknown_generation_and_bad_width(tmp_path):
    with pytest.raises(ValueError):
        write_pair(tmp_path, "3.0")
    with pytest.raises(ValueError):
        write_pair(tmp_path, "2.5", n_embd=100)
    with pytest.raises(ValueError):
        write_pair(tmp_path, "2.5", quant_label="Q9_Z")


# --- real llama.cpp inference (subprocess: a GGML abort must not kill pytest) ---

_RUN = textwrap.dedent(
    """
    import base64, io, json, sys
    from PIL import Image
    from llama_cpp import Llama
    from llama_cpp.llama_chat_format import Llava15ChatHandler, MiniCPMv26ChatHandler

    class Llama3Handler(Llava15ChatHandler):
        # Llama-3 turns, image URL before the text; no BOS (add_special adds it)
        CHAT_FORMAT = (
            "{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>\\n\\n"
            "{% if message['content'] is string %}{{ message['content'] }}{% else %}"
            "{% for c in message['content'] %}{% if c.type == 'image_url' %}"
            "{{ c.image_url.url if c.image_url is mapping else c.image_url }}{% endif %}{% endfor %}"
            "{% for c in message['content'] %}{% if c.type == 'text' %}{{ c.text }}{% endif %}{% endfor %}"
            "{% endif %}<|eot_id|>{% endfor %}"
            "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\\n\\n{% endif %}"
        )

    llm, mmproj, fmt = sys.argv[1:4]
    buf = io.BytesIO()
    Image.new("RGB", (1200, 900), (120, 30, 200)).save(buf, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
    handler = (Llama3Handler if fmt == "llama3" else MiniCPMv26ChatHandler)(clip_model_path=mmproj, verbose=False)
    model = Llama(model_path=llm, chat_handler=handler, n_ctx=4096, verbose=False, seed=1)
    out = model.create_chat_completion(
        messages=[{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "What is this?"}]}],
        max_tokens=6, temperature=0,
    )
    model.close()
    print(json.dumps(out["usage"]))
    """
)


@pytest.mark.slow
@pytest.mark.parametrize("gen_id", [g for g in GENERATION_IDS if g != "2.0"])
def test_llama_cpp_runs_pair_with_image(tiny_pair_factory, gen_id, tmp_path):
    pytest.importorskip("llama_cpp")
    llm, mmproj = tiny_pair_factory(gen_id)
    gen = generations.get(gen_id)
    proc = subprocess.run(
        [sys.executable, "-c", _RUN, str(llm), str(mmproj), gen.chat_format],
        capture_output=True, text=True, timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    usage = json.loads(proc.stdout.strip().splitlines()[-1])
    assert usage["completion_tokens"] == 6
    # 1200x900 -> overview + 3x2 slices; every one is `tokens_per_slice` embeddings
    assert usage["prompt_tokens"] > 7 * gen.tokens_per_slice - 1
