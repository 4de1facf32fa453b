"""`mcv config path|show|set|unset` end to end, in process."""

from __future__ import annotations

import json

from support.cli import run_mcv


def test_path_show_set_unset(mcv_env):
    result = run_mcv(["config", "path"], environ=mcv_env)
    assert result.exit_code == 0 and result.stdout.strip() == mcv_env["MCV_CONFIG"]

    result = run_mcv(["config", "set", "model", "minicpm-v:2.5-q4_K_M"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr

    result = run_mcv(["config", "show", "--json"], environ={**mcv_env, "MCV_BACKEND": "llama"})
    shown = json.loads(result.stdout)
    assert shown["model"] == {"value": "minicpm-v:2.5-q4_K_M", "source": "file"}
    assert shown["backend"] == {"value": "llama", "source": "MCV_BACKEND"}
    assert shown["host"] == {"value": None, "source": "default"}

    result = run_mcv(["config", "show"], environ=mcv_env)
    assert "model = minicpm-v:2.5-q4_K_M  [file]" in result.stdout

    assert run_mcv(["config", "unset", "model"], environ=mcv_env).exit_code == 0
    shown = json.loads(run_mcv(["config", "show", "--json"], environ=mcv_env).stdout)
    assert shown["model"]["source"] == "default"


def test_bad_key_is_one_line_and_exit_2(mcv_env):
    result = run_mcv(["config", "set", "colour", "blue"], environ=mcv_env)
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == "mcv: error: unknown config key 'colour'"
    assert "Traceback" not in result.stderr


def test_show_says_which_outside_variable_is_in_effect(mcv_env):
    # OLLAMA_HOST, OPENAI_BASE_URL and OPENAI_API_KEY win over MCV_* and the file: show must say so
    env = {**mcv_env, "MCV_HOST": "other:1", "OLLAMA_HOST": "gpu1:11434",
           "OPENAI_BASE_URL": "http://gpu1:8000/v1", "OPENAI_API_KEY": "sk-not-shown"}  # fmt: skip
    result = run_mcv(["config", "show", "--json"], environ=env)
    shown = json.loads(result.stdout)
    assert shown["host"] == {"value": "gpu1:11434", "source": "OLLAMA_HOST"}
    assert shown["openai.base_url"] == {"value": "http://gpu1:8000/v1", "source": "OPENAI_BASE_URL"}
    assert shown["openai.api_key"] == {"value": "(set)", "source": "OPENAI_API_KEY"}
    assert "sk-not-shown" not in result.stdout
    shown = json.loads(run_mcv(["config", "show", "--json"], environ={**mcv_env, "MCV_HOST": "other:1", "OLLAMA_HOST": " "}).stdout)
    assert shown["host"] == {"value": "other:1", "source": "MCV_HOST"}  # an empty OLLAMA_HOST hides nothing
