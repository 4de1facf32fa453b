"""Render every TEMPLATE with Go's text/template the way Ollama does (gotmpl/main.go).

Needs a Go toolchain (Debian: golang-go); skipped without one. Checks the exact
prompt text per chat format, Ollama's message collation, that no image tokens
appear, and that only 4.5 exposes thinking tags and switches on .Think.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mcv.modelfile import generations

HERE = Path(__file__).parent / "gotmpl"


@pytest.fixture(scope="session")
def render_bin(tmp_path_factory):
    go = shutil.which("go")
    if not go:
        pytest.skip("Go toolchain not installed (apt-get install golang-go)")
    out = tmp_path_factory.mktemp("gotmpl") / "render"
    env = {**os.environ, "GOFLAGS": "-mod=mod", "GOPROXY": "off", "GOTOOLCHAIN": "local", "CGO_ENABLED": "0"}
    env.setdefault("GOCACHE", str(tmp_path_factory.mktemp("gocache")))
    proc = subprocess.run([go, "build", "-o", str(out), "."], cwd=HERE, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return out


def render(bin_path, template, messages, think=None):
    payload = json.dumps({"template": template, "messages": messages, "think": think})
    proc = subprocess.run([str(bin_path)], input=payload, capture_output=True, text=True, timeout=30)
    result = json.loads(proc.stdout)
    assert "error" not in result, result
    return result["prompt"], tuple(result["think_tags"])


CHAT = [
    {"role": "system", "content": "SYS"},
    {"role": "user", "content": "[img-0]What is this?"},
    {"role": "assistant", "content": "A cat."},
    {"role": "user", "content": "Colour?"},
]


def test_llama3_prompt(render_bin):
    prompt, tags = render(render_bin, generations.get("2.5").ollama_template, CHAT)
    assert prompt == (
        "<|start_header_id|>system<|end_header_id|>\n\nSYS<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n[img-0]What is this?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nA cat.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nColour?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert tags == ("", "")


@pytest.mark.parametrize("gen_id", ["2.6", "o-2.6", "4.0", "4.6"])
def test_chatml_prompt(render_bin, gen_id):
    prompt, tags = render(render_bin, generations.get(gen_id).ollama_template, CHAT)
    assert prompt == (
        "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n[img-0]What is this?<|im_end|>\n"
        "<|im_start|>assistant\nA cat.<|im_end|>\n<|im_start|>user\nColour?<|im_end|>\n<|im_start|>assistant\n"
    )
    assert tags == ("", "")


def test_consecutive_user_messages_are_merged(render_bin):
    prompt, _ = render(render_bin, generations.get("2.6").ollama_template,
                       [{"role": "user", "content": "[img-0]"}, {"role": "user", "content": "describe"}])
    assert prompt == "<|im_start|>user\n[img-0]\n\ndescribe<|im_end|>\n<|im_start|>assistant\n"


def test_qwen3_hybrid_thinking_switch(render_bin):
    template = generations.get("4.5").ollama_template
    head = (
        "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\n[img-0]What is this?<|im_end|>\n"
        "<|im_start|>assistant\nA cat.<|im_end|>\n<|im_start|>user\nColour?<|im_end|>\n<|im_start|>assistant\n"
    )
    off, tags = render(render_bin, template, CHAT, think=False)
    assert off == head + "<think>\n\n</think>\n\n"
    assert tags == ("<think>", "</think>")  # Ollama gives the model the thinking capability
    unset, _ = render(render_bin, template, CHAT, think=None)
    assert unset == off
    on, _ = render(render_bin, template, CHAT, think=True)
    assert on == head
    # a trailing assistant message (prefill) keeps its thinking and stays open
    prefill, _ = render(render_bin, template, [*CHAT, {"role": "assistant", "content": "Or", "thinking": "hmm"}], think=True)
    assert prefill == head.rsplit("<|im_start|>assistant\n", 1)[0] + "<|im_start|>assistant\n<think>hmm</think>\n\nOr"


@pytest.mark.parametrize("gen", generations.GENERATIONS, ids=lambda g: g.id)
def test_no_image_tokens_rendered(render_bin, gen):
    prompt, _ = render(render_bin, gen.ollama_template, CHAT, think=False)
    for token in ("<image>", "<slice>", "<image_id>"):
        assert token not in prompt
