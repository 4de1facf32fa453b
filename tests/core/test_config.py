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


MINE = '''# my mcv settings
model = "minicpm-v:2.5-q4_K_M"   # the quant I pulled

[images]
# OCR work: keep the full budget
max_pixels = 1806336

[presets.invoice]
prompt = """Read the invoice.
Give the total."""  # kept as I wrote it
'''


def test_set_and_unset_change_one_line_and_keep_comments_and_layout(environ):
    path = config_path(environ)
    path.parent.mkdir(parents=True)
    path.write_text(MINE, encoding="utf-8")
    set_value("images.max_pixels", "800000", environ)
    assert path.read_text(encoding="utf-8") == MINE.replace("max_pixels = 1806336", "max_pixels = 800000")
    set_value("llama.n_threads", "4", environ)  # a new table goes after the others
    set_value("temperature", "0.2", environ)  # a new top-level key stays above the tables
    text = path.read_text(encoding="utf-8")
    assert text.startswith('# my mcv settings\nmodel = "minicpm-v:2.5-q4_K_M"   # the quant I pulled\n')
    assert text.index("temperature = 0.2") < text.index("[images]") < text.index("[presets.invoice]") < text.index("[llama]")
    assert "# OCR work: keep the full budget" in text and "# kept as I wrote it" in text
    config = load_config(environ)
    assert (config.get("temperature"), config.get("llama.n_threads"), config.get("images.max_pixels")) == (0.2, 4, 800000)
    unset_value("temperature", environ)
    unset_value("llama.n_threads", environ)
    unset_value("images.max_pixels", environ)
    unset_value("images.max_pixels", environ)  # not there: nothing changes
    text = path.read_text(encoding="utf-8")
    assert "temperature" not in text and "n_threads" not in text and "max_pixels" not in text
    assert "# OCR work: keep the full budget" in text and 'model = "minicpm-v:2.5-q4_K_M"   # the quant I pulled' in text
    assert load_config(environ).get("model") == "minicpm-v:2.5-q4_K_M"


def test_set_keeps_the_files_mode_and_link_and_hides_a_key_from_others(environ, tmp_path):
    import os
    import stat

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    path = config_path(environ)
    set_value("model", "m", environ)
    os.chmod(path, 0o600)  # the user's choice survives a change
    set_value("llama.n_threads", "4", environ)
    assert mode(path) == 0o600
    os.chmod(path, 0o644)
    set_value("openai.api_key", "sk-1", environ)  # a secret in it: no longer readable by others
    assert mode(path) == 0o600 and load_config(environ).get("openai.api_key") == "sk-1"
    fresh = {"MCV_CONFIG": str(tmp_path / "fresh" / "config.toml")}
    set_value("openai.api_key", "sk-2", fresh)
    assert mode(config_path(fresh)) == 0o600
    real = tmp_path / "dotfiles" / "mcv.toml"  # a config linked from a dotfiles folder stays a link
    real.parent.mkdir()
    real.write_text('model = "x"\n')
    linked = tmp_path / "linked" / "config.toml"
    linked.parent.mkdir()
    linked.symlink_to(real)
    set_value("llama.n_threads", "2", {"MCV_CONFIG": str(linked)})
    assert linked.is_symlink() and "n_threads = 2" in real.read_text() and 'model = "x"' in real.read_text()


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
