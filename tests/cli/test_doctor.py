"""`mcv doctor` end to end: real self-test in a child process, stand-in Ollama, tiny pairs."""

from __future__ import annotations

import json

import pytest
from support.cli import run_mcv
from support.net import closed_port

pytestmark = pytest.mark.slow


@pytest.fixture
def env(mcv_env, tmp_path):
    """Nothing found anywhere: no daemon, empty Ollama store and HF cache."""
    return {
        **mcv_env,
        "HOME": str(tmp_path / "home"),
        "OLLAMA_MODELS": str(tmp_path / "ollama-models"),
        "HF_HUB_CACHE": str(tmp_path / "hf-cache"),
        "OLLAMA_HOST": f"127.0.0.1:{closed_port()}",
    }


def lines(result) -> dict[str, str]:
    """{check name: mark + detail} from the plain-text report."""
    found = {}
    for line in result.stdout.splitlines():
        if line[:1] in "✓!✗" and len(line) > 2:
            name, _, detail = line[2:].partition("  ")
            found[name.strip()] = line[0] + " " + detail.strip()
    return found


def test_local_pair_and_self_test_make_it_healthy(env, tiny_pair_factory):
    llm, projector = tiny_pair_factory("2.5")
    env.update(MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(projector))
    result = run_mcv(["doctor"], environ=env)
    checks = lines(result)
    assert result.exit_code == 0, result.stdout
    assert checks["ollama"].startswith("! not running at http://127.0.0.1:")
    assert checks["llama-cpp-python"].startswith("✓ 0.3.")
    assert checks["self-test"].startswith("✓ tiny 2.5 pair answered about one image")
    assert checks["pair: config"] == f"✓ MiniCPM-Llama3-V 2.5: {llm} + {projector.name}"
    assert checks["summary"] == "✓ MiniCPM-V can run here: in process (llama.cpp)"
    assert "\x1b[" not in result.stdout  # plain text when not a terminal
    assert result.stderr == ""


def test_nothing_to_run_is_exit_1_with_advice(env):
    result = run_mcv(["doctor"], environ=env)
    checks = lines(result)
    assert result.exit_code == 1
    assert checks["local GGUF pair"] == "! none for 'minicpm-v' (looked in: path, config, ollama store, hugging face cache)"
    assert checks["summary"] == "✗ no way to run MiniCPM-V yet"
    assert "mcv model fetch" in result.stdout


def test_ollama_with_a_vision_model_is_enough(env, ollama_standin):
    ollama_standin.add_model("minicpm-v")
    ollama_standin.add_model("qwen-text", capabilities=("completion",))
    env["OLLAMA_HOST"] = ollama_standin.url
    result = run_mcv(["doctor", "--no-self-test"], environ=env)
    checks = lines(result)
    assert result.exit_code == 0, result.stdout
    assert checks["ollama"] == f"✓ version {ollama_standin.version} at {ollama_standin.url}"
    assert checks["ollama vision models"] == "✓ minicpm-v:latest"
    assert "self-test" not in checks


def test_missing_model_in_ollama_is_a_warning(env, ollama_standin):
    ollama_standin.add_model("llava")
    result = run_mcv(["doctor", "--no-self-test", "--host", ollama_standin.url, "-m", "minicpm-v"], environ=env)
    assert lines(result)["ollama vision models"] == "! llava:latest"
    assert "'minicpm-v' is not among them" in result.stdout
    assert result.exit_code == 0  # another vision model still runs


def test_broken_config_is_exit_1_even_with_ollama(env, ollama_standin, tmp_path):
    ollama_standin.add_model("minicpm-v")
    env.update(OLLAMA_HOST=ollama_standin.url, MCV_LLAMA_MODEL=str(tmp_path / "gone.gguf"), MCV_LLAMA_MMPROJ=str(tmp_path / "x.gguf"))
    result = run_mcv(["doctor", "--no-self-test"], environ=env)
    assert result.exit_code == 1
    assert lines(result)["pair: config"].startswith("✗ llama.model points at")


def test_mismatched_pair_is_reported(env, tiny_pair_factory):
    llm, _ = tiny_pair_factory("2.5")
    _, projector = tiny_pair_factory("2.6")
    env.update(MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(projector))
    result = run_mcv(["doctor", "--no-self-test"], environ=env)
    assert result.exit_code == 1
    assert "do not belong together" in lines(result)["pair: config"]


def test_broken_llama_cpp_library_fails_the_self_test(env, tiny_pair_factory):
    # The child process cannot load libmtmd: what a broken install looks like.
    llm, projector = tiny_pair_factory("2.5")
    env.update(MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(projector), MTMD_CPP_LIB="/nonexistent/lib")
    result = run_mcv(["doctor"], environ=env)
    assert result.exit_code == 1
    assert lines(result)["self-test"].startswith("✗ ")


def test_json_report(env, tiny_pair_factory):
    llm, projector = tiny_pair_factory("2.5")
    env.update(MCV_LLAMA_MODEL=str(llm), MCV_LLAMA_MMPROJ=str(projector))
    result = run_mcv(["doctor", "--json"], environ=env)
    document = json.loads(result.stdout)
    assert document["healthy"] is True and result.exit_code == 0
    by_name = {check["name"]: check for check in document["checks"]}
    assert by_name["self-test"]["status"] == "ok"
    assert by_name["ollama"]["status"] == "warn" and by_name["ollama"]["hint"]
    assert set(by_name["summary"]) == {"name", "status", "detail", "hint"}


def test_terminal_output_is_styled(env):
    result = run_mcv(["doctor", "--no-self-test"], environ={k: v for k, v in env.items() if k != "NO_COLOR"}, stdout_tty=True)
    assert "\x1b[" in result.stdout and "no way to run MiniCPM-V yet" in result.stdout
