"""`mcv ask --backend auto` without a daemon: the answer comes from a tiny GGUF pair, in process."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support.cli import run_mcv


@pytest.fixture
def local_env(mcv_env, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    mcv_env.update(MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(mmproj), MCV_BACKEND="auto")
    return mcv_env


@pytest.mark.slow
def test_daemon_down_answers_from_the_local_pair(ollama_standin, local_env, photo_jpeg):
    local_env["OLLAMA_HOST"] = ollama_standin.url
    ollama_standin.stop()
    result = run_mcv(["ask", str(photo_jpeg), "what is it", "--json", "-o", "num_predict=8"], environ=local_env)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "llama"
    metrics = payload["metrics"]
    # 1600x1200 on a version-2 projector: overview + 3x2 slices of 96 embeddings, plus text.
    assert metrics["prompt_eval_count"] > 7 * 96
    assert 0 < metrics["eval_count"] <= 8


@pytest.mark.slow
def test_daemon_up_with_the_model_is_preferred(ollama_standin, local_env, photo_jpeg):
    ollama_standin.add_model("minicpm-v", answer="From Ollama.")
    local_env["OLLAMA_HOST"] = ollama_standin.url
    result = run_mcv(["ask", str(photo_jpeg), "--json"], environ=local_env)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["backend"] == "ollama"


@pytest.mark.slow
def test_real_subprocess_with_no_daemon(ollama_standin, local_env, photo_jpeg):
    local_env["OLLAMA_HOST"] = ollama_standin.url
    ollama_standin.stop()
    proc = subprocess.run(
        [sys.executable, "-m", "mcv", "ask", "--backend", "auto", str(photo_jpeg), "describe", "-o", "num_predict=4", "-v"],
        env=local_env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "tok/s" in proc.stderr  # metrics line from the in-process run
    assert "Traceback" not in proc.stderr and "llama_" not in proc.stderr  # llama.cpp kept quiet
