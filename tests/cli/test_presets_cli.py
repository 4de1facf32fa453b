"""`mcv presets ls|show` and `mcv ask --preset/--schema`, end to end: against the strict
Ollama stand-in (told to answer valid, invalid or garbage text) and against a
tiny real GGUF pair run in process (the fallback)."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from mcv.core.presets import BUILT_IN, FULL_BUDGET, RECEIPT_SCHEMA, SMALL_BUDGET
from mcv.core.schema import problem
from support.cli import run_mcv

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

GOOD_RECEIPT = {
    "merchant": "CORNER SHOP", "date": "2024-05-01", "currency": "EUR",
    "items": [{"name": "Item 01", "quantity": 1, "unit_price": 1.25, "total": 1.25}],
    "subtotal": None, "tax": None, "total": 42.0,
}  # fmt: skip
# What the stand-in answers for each preset (a fitting answer).
ANSWERS = {
    "describe": "A photo of soft coloured shapes on a gradient.",
    "caption": "Soft coloured shapes float over a gradient.",
    "alt": "Blurred coloured ellipses on a smooth gradient background",
    "ocr": "CORNER SHOP\n12 Main Street",
    "table": "| item | price |\n|---|---|\n| Item 01 | 1.25 |",
    "receipt": json.dumps(GOOD_RECEIPT),
    "tags": '["shapes", "gradient", "abstract"]',
}


@pytest.fixture
def daemon(ollama_standin, mcv_env):
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    mcv_env["MCV_BACKEND"] = "ollama"
    return ollama_standin, mcv_env


def answering(standin, *texts: str):
    queue = list(texts)
    return standin.add_model("minicpm-v", answer=lambda request: queue.pop(0) if len(queue) > 1 else queue[0])


def last_chat(standin) -> dict:
    return standin.requests_to("/api/chat")[-1].json


def sent_size(chat: dict) -> tuple[int, int]:
    (b64,) = [image for message in chat["messages"] for image in message.get("images", [])]
    return Image.open(io.BytesIO(base64.b64decode(b64))).size


# --- mcv presets ----------------------------------------------------------------------------------


def test_presets_ls_lists_built_ins_and_the_users(mcv_env):
    config = Path(mcv_env["MCV_CONFIG"])
    config.parent.mkdir(parents=True)
    config.write_text('[presets.invoice]\ndescription = "an invoice"\nprompt = "Read it."\nschema = "total float"\n')
    result = run_mcv(["presets", "ls"], environ=mcv_env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["NAME", "DOES", "PIXELS", "ANSWER", "FROM"]
    names = [line.split()[0] for line in lines[1:]]
    assert names == [*BUILT_IN, "invoice"]
    receipt = next(line for line in lines if line.startswith("receipt"))
    assert "full" in receipt and "json" in receipt and "built-in" in receipt
    assert "0.6 MP" in next(line for line in lines if line.startswith("caption"))
    assert str(config) in lines[-1]
    as_json = run_mcv(["presets", "ls", "--json"], environ=mcv_env)
    assert [json.loads(line)["name"] for line in as_json.stdout.splitlines()] == names


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_presets_show_is_a_config_table_that_round_trips(mcv_env, name):
    shown = run_mcv(["presets", "show", name], environ=mcv_env)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.startswith("# built-in; a [presets.")
    table = tomllib.loads(shown.stdout)["presets"][name]
    assert table["prompt"] == BUILT_IN[name].prompt
    # Pasted into the config file, it gives the same preset back.
    config = Path(mcv_env["MCV_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(shown.stdout)
    from mcv.core.config import load_config
    from mcv.core.presets import find_preset

    again = find_preset(load_config(mcv_env), name)
    original = BUILT_IN[name]
    for field in ("prompt", "system", "options", "schema", "max_pixels", "max_chars", "xmp", "description"):
        assert getattr(again, field) == getattr(original, field), field


@pytest.mark.parametrize(
    "schema", ['"number, date: ISO date, total float"', "\"total float: the '''grand''' total\""]
)
def test_a_user_preset_with_a_multi_line_prompt_round_trips(mcv_env, schema):
    config = Path(mcv_env["MCV_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        '[presets."my.invoice"]\nprompt = """\nRead this invoice.\n\nBe careful with totals."""\n'
        f'schema = {schema}\nmax_pixels = "configured"\noptions = {{ temperature = 0, num_predict = 300 }}\n'
    )
    from mcv.core.config import load_config
    from mcv.core.presets import find_preset

    original = find_preset(load_config(mcv_env), "my.invoice")
    shown = run_mcv(["presets", "show", "my.invoice"], environ=mcv_env)
    assert shown.exit_code == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"# from {config}: its [presets.my.invoice] table"  # the path once
    config.write_text(shown.stdout)  # pasted back as the whole config file
    again = find_preset(load_config(mcv_env), "my.invoice")
    for field in ("prompt", "system", "options", "schema", "max_pixels", "max_chars", "xmp", "description"):
        assert getattr(again, field) == getattr(original, field), field
    assert again.prompt == "Read this invoice.\n\nBe careful with totals."


def test_presets_show_unknown_is_exit_2(mcv_env):
    result = run_mcv(["presets", "show", "recipe"], environ=mcv_env)
    assert result.exit_code == 2
    assert result.stderr.startswith("mcv: error: no preset called 'recipe'\nmcv: hint: presets: alt, caption,")


# --- every preset through `mcv ask`, against the stand-in -----------------------------------------


@pytest.mark.parametrize("name", list(BUILT_IN))
def test_every_preset_end_to_end(daemon, photo_jpeg, name):
    standin, env = daemon
    answering(standin, ANSWERS[name])
    preset = BUILT_IN[name]
    result = run_mcv(["ask", str(photo_jpeg), "--preset", name], environ=env)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ANSWERS[name] + "\n"
    chat = last_chat(standin)
    assert len(standin.requests_to("/api/chat")) == 1
    messages = chat["messages"]
    if preset.system:
        assert messages[0] == {"role": "system", "content": preset.system}
    assert messages[-1]["content"] == "[img]\n" + preset.prompt
    assert chat.get("format") == preset.schema
    assert chat.get("options", {}) == dict(preset.options)
    width, height = sent_size(chat)  # 1600x1200 shrinks to the preset's budget
    assert width * height <= (preset.max_pixels or FULL_BUDGET)
    if preset.max_pixels == SMALL_BUDGET:
        assert width * height > 0.97 * SMALL_BUDGET
    if preset.schema is not None:
        assert problem(result.stdout, preset.schema)[1] is None


def test_receipt_preset_prints_json_that_validates(daemon, receipt_png):
    standin, env = daemon
    answering(standin, ANSWERS["receipt"])
    result = run_mcv(["ask", str(receipt_png), "--preset", "receipt", "the total only matters"], environ=env)
    assert result.exit_code == 0, result.stderr
    import jsonschema

    jsonschema.validate(json.loads(result.stdout), RECEIPT_SCHEMA, format_checker=jsonschema.FormatChecker())
    assert last_chat(standin)["messages"][-1]["content"].endswith(BUILT_IN["receipt"].prompt + "\n\nthe total only matters")
    assert sent_size(last_chat(standin)) == (600, 1400)  # within the full budget: not shrunk


def test_invalid_then_valid_is_retried_once_and_said(daemon, photo_jpeg):
    standin, env = daemon
    wrong = json.dumps({**GOOD_RECEIPT, "date": "1 May 2024"})
    answering(standin, wrong, ANSWERS["receipt"])
    result = run_mcv(["ask", str(photo_jpeg), "--preset", "receipt", "--json"], environ=env)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["data"] == GOOD_RECEIPT and document["answer"] == ANSWERS["receipt"]
    assert result.stderr == "mcv: the answer did not fit (at date: '1 May 2024' is not a 'date'); asking once more\n"
    assert len(standin.requests_to("/api/chat")) == 2


@pytest.mark.parametrize("bad", ['{"merchant": "x"}', "I cannot read this receipt, sorry."])
def test_invalid_twice_is_exit_1_with_the_raw_text_on_stdout(daemon, photo_jpeg, bad):
    standin, env = daemon
    answering(standin, bad)
    result = run_mcv(["ask", str(photo_jpeg), "--preset", "receipt"], environ=env)
    assert result.exit_code == 1
    assert result.stdout == bad + "\n"
    lines = result.stderr.splitlines()
    assert lines[1].startswith("mcv: error: the answer did not match the schema, even when asked again: ")
    assert lines[2].startswith("mcv: hint: the model's last answer is kept")


def test_alt_text_over_125_characters_is_asked_again(daemon, photo_jpeg):
    standin, env = daemon
    long = "A " + "very " * 30 + "long description."
    answering(standin, long, ANSWERS["alt"])
    result = run_mcv(["ask", str(photo_jpeg), "-p", "alt"], environ=env)
    assert result.exit_code == 0 and result.stdout == ANSWERS["alt"] + "\n"
    assert "characters long; at most 125 are allowed" in last_chat(standin)["messages"][-1]["content"]


def test_shorthand_schema_and_flags_beat_the_preset(daemon, photo_jpeg):
    standin, env = daemon
    answering(standin, '{"merchant": "CORNER SHOP", "total": 42.0}')
    result = run_mcv(
        ["ask", str(photo_jpeg), "-p", "receipt", "--schema", "merchant, total float: the amount paid", "-t", "0.3",
         "--max-pixels", "400000", "-o", "num_ctx=4096"],
        environ=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    chat = last_chat(standin)
    assert chat["format"]["properties"]["total"] == {"type": "number", "description": "the amount paid"}
    assert chat["options"] == {"temperature": 0.3, "num_ctx": 4096}
    width, height = sent_size(chat)
    assert width * height <= 400_000


def test_a_user_preset_from_the_config_file(daemon, photo_jpeg):
    standin, env = daemon
    config = Path(env["MCV_CONFIG"])
    config.parent.mkdir(parents=True)
    config.write_text('[presets.plate]\nprompt = "Read the number plate."\nschema = "plate"\noptions = { seed = 7 }\n')
    answering(standin, '{"plate": "B-MC 2024"}')
    result = run_mcv(["ask", str(photo_jpeg), "--preset", "plate"], environ=env)
    assert result.exit_code == 0 and json.loads(result.stdout) == {"plate": "B-MC 2024"}
    assert last_chat(standin)["options"] == {"seed": 7}


# --- the tiny-pair fallback (real llama.cpp, random weights) ---------------------------------------


@pytest.fixture
def fallback_env(mcv_env, tiny_pair_factory, ollama_standin):
    """No daemon; the 2.6-shaped pair (64 embeddings per slice) answers in process."""
    llm, _ = tiny_pair_factory("2.6")
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    ollama_standin.stop()
    return mcv_env, str(llm)


def ask_fallback(env, llm, photo, name, *extra) -> dict:
    result = run_mcv(["ask", "-m", llm, str(photo), "--preset", name, "--json", "-o", "seed=1", *extra], environ=env)
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["backend"] == "llama"
    return document


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BUILT_IN))
def test_every_preset_on_the_fallback(fallback_env, photo_jpeg, name):
    env, llm = fallback_env
    preset = BUILT_IN[name]
    document = ask_fallback(env, llm, photo_jpeg, name, "-o", "num_predict=400")
    assert document["images"][0]["width"] * document["images"][0]["height"] <= (preset.max_pixels or FULL_BUDGET)
    if preset.schema is not None:  # the grammar holds the random model to the schema; the core validated it
        assert problem(json.dumps(document["data"]), preset.schema) == (document["data"], None)
    if preset.max_chars is not None:
        assert 0 < len(document["answer"].strip()) <= preset.max_chars


@pytest.mark.slow
def test_the_smaller_budget_spends_fewer_prompt_tokens_on_the_fallback(fallback_env, photo_jpeg):
    env, llm = fallback_env
    caption = ask_fallback(env, llm, photo_jpeg, "caption", "-o", "num_predict=1")["metrics"]["prompt_eval_count"]
    describe = ask_fallback(env, llm, photo_jpeg, "describe", "-o", "num_predict=1")["metrics"]["prompt_eval_count"]
    # 1600x1200: 3x3 slices + overview at the full budget, 2x2 + overview at 0.6 MP; 64 embeddings each.
    assert describe - caption >= (10 - 5) * 64 - 40  # the prompts' own lengths differ by a few dozen tokens
