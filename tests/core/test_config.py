"""Configuration: precedence flag > environment > file > default, and the file itself."""

from __future__ import annotations

import pytest

from mcv.core.config import KEYS, config_path, load_config, set_value, unset_value
from mcv.errors import UsageError


@pytest.fixture
def environ(tmp_path):
    return {"MCV_CONFIG": str(tmp_path / "conf" / "config.toml")}


def test_defaults_without_a_file(environ):
    config = load_config(environ)
    assert config.get("model") == "minicpm-v"
    assert config.lookup("backend") == ("auto", "default")
    assert config.get("images.max_pixels") == 1_806_336


def test_precedence_flag_env_file_default(environ):
    set_value("model", "from-file", environ)
    assert load_config(environ).lookup("model") == ("from-file", "file")
    environ["MCV_MODEL"] = "from-env"
    assert load_config(environ).lookup("model") == ("from-env", "env")
    flagged = load_config(environ, flags={"model": "from-flag", "host": None})
    assert flagged.lookup("model") == ("from-flag", "flag")
    assert flagged.configured("model") == "from-env"  # what the user set up, flags aside
    assert flagged.lookup("host") == (None, "default")  # a flag not given is no flag
    with pytest.raises(KeyError):
        load_config(environ, flags={"modle": "typo"})


def test_nested_keys_round_trip_and_keep_other_keys(environ):
    set_value("llama.n_threads", "4", environ)
    set_value("model", "m", environ)
    text = config_path(environ).read_text()
    assert "[llama]" in text and "n_threads = 4" in text
    config = load_config(environ)
    assert config.get("llama.n_threads") == 4 and config.get("model") == "m"
    unset_value("llama.n_threads", environ)
    config = load_config(environ)
    assert config.lookup("llama.n_threads") == (None, "default") and config.get("model") == "m"


def test_env_values_are_parsed_and_checked(environ):
    environ["MCV_LLAMA_N_GPU_LAYERS"] = "-1"
    environ["MCV_RENDER_MARKDOWN"] = "no"
    config = load_config(environ)
    assert config.get("llama.n_gpu_layers") == -1
    assert config.get("render.markdown") is False
    environ["MCV_BACKEND"] = "gpu"
    with pytest.raises(UsageError, match="MCV_BACKEND"):
        load_config(environ).get("backend")


@pytest.mark.parametrize(
    "key, value, message",
    [("nope", "1", "unknown config key"), ("backend", "cuda", "expected one of"), ("llama.n_ctx", "-5", "positive")],
)
def test_set_rejects_bad_keys_and_values(environ, key, value, message):
    with pytest.raises(UsageError, match=message):
        set_value(key, value, environ)
    assert not config_path(environ).exists()


def test_broken_or_unknown_file_content_is_one_clear_error(environ):
    path = config_path(environ)
    path.parent.mkdir(parents=True)
    path.write_text("model = [unclosed\n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_config(environ)
    path.write_text('colour = "blue"\n')
    with pytest.raises(UsageError, match="unknown key 'colour'"):
        load_config(environ)


def test_every_key_has_an_env_var_and_help():
    for key in KEYS.values():
        assert key.env_var.startswith("MCV_") and key.help
