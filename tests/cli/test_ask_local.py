"""`mcv ask --backend auto` without a daemon: the answer comes from a tiny GGUF pair, in process."""

from __future__ import annotations

import json
import re
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
    # Greedy: a random tiny model is then deterministic and writes newlines, never an early end.
    result = run_mcv(["ask", str(photo_jpeg), "what is it", "--json", "-o", "num_predict=8", "-o", "temperature=0"], environ=local_env)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["backend"] == "llama"
    metrics = payload["metrics"]
    # 1600x1200 on a version-2 projector: overview + 3x2 slices of 96 embeddings, plus text.
    assert metrics["prompt_eval_count"] > 7 * 96
    assert metrics["eval_count"] == 8


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
    # The metrics line of the in-process run (a random tiny model may stop at once: no tok/s then).
    assert re.search(r"^mcv: prompt \d+ tok .* total \d", proc.stderr, re.MULTILINE), proc.stderr
    assert "(nothing answers there); answering with MiniCPM-Llama3-V 2.5 in process (llama.cpp), from the config:" in proc.stderr
    assert "Traceback" not in proc.stderr and "llama_" not in proc.stderr  # llama.cpp kept quiet


@pytest.fixture
def fetched_env(mcv_env, hf_environ, hf_server, tiny_pair_25, ollama_standin):
    """What a new user has after `mcv setup` without Ollama: the 2.5 pair in the HF cache, no daemon."""
    from mcv.modelfile import generations

    repo = generations.get("2.5").hf_repo
    hf_server.add_repo_files(repo, {"ggml-model-Q4_K_M.gguf": tiny_pair_25[0], "mmproj-model-f16.gguf": tiny_pair_25[1]})
    env = {**mcv_env, **hf_environ, "OLLAMA_HOST": ollama_standin.url}
    ollama_standin.stop()
    fetched = run_mcv(["model", "fetch", "2.5", "--no-create"], environ=env)
    assert fetched.exit_code == 0, fetched.stderr
    return env


@pytest.mark.slow
def test_the_cached_pair_answers_for_minicpm_v_and_says_so(fetched_env, photo_jpeg):
    result = run_mcv(["ask", str(photo_jpeg), "what is it", "--json", "-o", "num_predict=4"], environ=fetched_env)
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert (payload["model"], payload["backend"]) == ("minicpm-v", "llama")
    pair = payload["pair"]
    assert (pair["source"], pair["generation"]) == ("hugging face cache", "MiniCPM-Llama3-V 2.5")
    assert pair["llm"].endswith("ggml-model-Q4_K_M.gguf") and pair["mmproj"].endswith("mmproj-model-f16.gguf")
    assert payload["fallback_from"].startswith("Ollama is not running at")
    (note,) = [line for line in result.stderr.splitlines() if "answering with" in line]
    assert note.startswith("mcv: Ollama is not running at ")
    assert "; answering with MiniCPM-Llama3-V 2.5 in process (llama.cpp), from the hugging face cache:" in note
    assert pair["llm"] in note


def test_the_cached_pair_never_answers_for_another_model(fetched_env, photo_jpeg, ollama_standin):
    result = run_mcv(["ask", "-m", "llava:13b", str(photo_jpeg), "--json"], environ=fetched_env)
    assert result.exit_code == 1
    assert result.stdout == ""
    first, hint = result.stderr.splitlines()
    assert first == (
        f"mcv: error: Ollama is not running at {ollama_standin.url} (nothing answers there), "
        "and no local GGUF pair for 'llava:13b'"
    )
    assert hint.startswith("mcv: hint: start it with `ollama serve`")
