"""Modelfile text, /api/create payload, tags; round trip through ollama's parser rules.

Golden Modelfiles live in tests/modelfile/golden/; regenerate them with
MCV_UPDATE_GOLDEN=1 python3 -m pytest tests/modelfile/test_render.py
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from mcv.errors import InputError
from mcv.modelfile import generations
from mcv.modelfile.identify import validate_pair
from mcv.modelfile.render import create_payload, default_tag, license_text, modelfile_text, parameters, quote_value

from ollama_modelfile import ParseError, create_request, parse

GOLDEN = Path(__file__).parent / "golden"
# Read at import: the session's isolation fixture removes MCV_* variables.
UPDATE_GOLDEN = os.environ.get("MCV_UPDATE_GOLDEN") == "1"
SUPPORTED_IDS = [g.id for g in generations.SUPPORTED]
DIGEST = "sha256:" + "ab" * 32


@pytest.fixture
def pair_for(tiny_pair_factory):
    def make(gen_id: str):
        return validate_pair(*tiny_pair_factory(gen_id))

    return make


@pytest.mark.parametrize("gen_id", SUPPORTED_IDS)
def test_golden_modelfile(pair_for, gen_id):
    pair = pair_for(gen_id)
    text = modelfile_text(pair, relative_to=pair.llm.parent)
    golden = GOLDEN / f"Modelfile.{gen_id}"
    if UPDATE_GOLDEN:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"missing {golden}; run with MCV_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("gen_id", SUPPORTED_IDS)
def test_modelfile_round_trips_and_matches_payload(pair_for, gen_id):
    pair = pair_for(gen_id)
    gen = pair.generation
    text = modelfile_text(pair, relative_to=pair.llm.parent)
    req = create_request(parse(text))
    assert req["from_paths"] == [f"./{pair.llm.name}", f"./{pair.projector.name}"]
    assert req["template"] == gen.ollama_template
    assert req.get("system") == gen.system
    payload = create_payload(pair, "minicpm:test", files={pair.llm.name: DIGEST, pair.projector.name: DIGEST})
    # what `ollama create -f` would send equals what mcv sends itself
    assert req["parameters"] == payload["parameters"] == parameters(gen)
    assert req["license"] == payload["license"]
    assert payload["template"] == req["template"] and payload.get("system") == req.get("system")
    assert payload.get("parser") == req.get("parser") == gen.ollama_parser
    assert payload["model"] == "minicpm:test" and payload["stream"] is True
    assert payload["files"] == {pair.llm.name: DIGEST, pair.projector.name: DIGEST}
    assert isinstance(payload["parameters"]["top_k"], int) and isinstance(payload["parameters"]["temperature"], float)
    assert payload["parameters"]["stop"] == list(gen.stop)


@pytest.mark.parametrize("gen_id", SUPPORTED_IDS)
def test_no_image_tokens_in_template_line(pair_for, gen_id):
    text = modelfile_text(pair_for(gen_id), relative_to=Path("/"), include_license=False)
    template = dict(parse(text))["template"]
    for token in ("<image>", "</image>", "<slice>", "</slice>"):
        assert token not in template
    assert "LICENSE" not in text


def test_license_text_names_every_licence_and_required_notice():
    v25 = license_text(generations.get("2.5"))
    assert "Apache License 2.0 applies to the MiniCPM-o/V weights" in v25
    assert "Meta Llama 3 Community License applies to its language model" in v25
    assert "https://llama.meta.com/llama3/license/" in v25
    assert "Meta Llama 3 is licensed under the Meta Llama 3 Community License, Copyright © Meta Platforms" in v25
    v46 = license_text(generations.get("4.6"))
    assert "Apache License 2.0" in v46 and "Llama" not in v46 and "MiniCPM Model License" not in v46
    assert v46.endswith("Model card: https://huggingface.co/openbmb/MiniCPM-V-4.6-gguf\n")
    for gen in generations.SUPPORTED:  # writable as a Modelfile LICENSE
        assert quote_value(license_text(gen), multiline=True)


def test_from_paths_relative_to_modelfile_dir(tiny_pair_factory, tmp_path):
    llm, mmproj = tiny_pair_factory("2.5")
    spaced = tmp_path / "my models" / "v 2.5"
    spaced.mkdir(parents=True)
    for p in (llm, mmproj):
        shutil.copy(p, spaced / p.name)
    pair = validate_pair(spaced / llm.name, spaced / mmproj.name)
    below = create_request(parse(modelfile_text(pair, relative_to=tmp_path)))["from_paths"]
    assert below == [f"./my models/v 2.5/{llm.name}", f"./my models/v 2.5/{mmproj.name}"]
    beside = tmp_path / "elsewhere"
    beside.mkdir()
    up = create_request(parse(modelfile_text(pair, relative_to=beside)))["from_paths"]
    assert up == [f"../my models/v 2.5/{llm.name}", f"../my models/v 2.5/{mmproj.name}"]
    # what ollama does with it: resolve against the Modelfile's directory
    assert (beside / up[0]).resolve() == (spaced / llm.name).resolve()


def test_default_tags(pair_for, tiny_pair_factory, tmp_path):
    assert default_tag(pair_for("2.5")) == "2.5-q4_K_M"
    assert default_tag(pair_for("o-2.6")) == "o-2.6-q4_K_M"
    from mcv.selftest.tinypair import write_pair

    for quant, tag in (("F16", "2.6-fp16"), ("Q8_0", "2.6-q8_0"), ("IQ3_M", "2.6-iq3_M"), ("Q5_K_S", "2.6-q5_K_S"), ("BF16", "2.6-bf16")):
        pair = validate_pair(*write_pair(tmp_path / quant, "2.6", quant_label=quant))
        assert default_tag(pair) == tag


def test_create_payload_validation(pair_for):
    pair = pair_for("2.6")
    files = {pair.llm.name: DIGEST, pair.projector.name: DIGEST}
    with pytest.raises(InputError, match="invalid model name"):
        create_payload(pair, "", files=files)
    with pytest.raises(InputError, match="invalid model name"):
        create_payload(pair, "a b", files=files)
    for bad_name in ("/abs.gguf", "../up.gguf", "a//b.gguf", ""):
        with pytest.raises(InputError, match="relative path"):
            create_payload(pair, "m", files={**files, bad_name: DIGEST})
    with pytest.raises(InputError, match="invalid digest"):
        create_payload(pair, "m", files={pair.llm.name: "sha256:xyz", pair.projector.name: DIGEST})
    with pytest.raises(InputError, match=f"lack {pair.projector.name}"):
        create_payload(pair, "m", files={pair.llm.name: DIGEST})
    no_system = create_payload(pair_for("2.5"), "m", files={pair_for("2.5").llm.name: DIGEST, pair_for("2.5").projector.name: DIGEST})
    assert "system" not in no_system


# --- quoting against ollama's parser rules -----------------------------------------

ROUND_TRIP = ["a", " a", "a ", '"a"', '"', '""', 'a"', '"a', "x\ny", "\nx\n", " x\n ", 'ab"\ncd', "", "tab\there",
              "<|im_end|>", "a\r\nb", "ünï 😀", "{{ .Content }}"]


@pytest.mark.parametrize("value", ROUND_TRIP)
@pytest.mark.parametrize("multiline", [False, True])
def test_quote_value_round_trips(value, multiline):
    quoted = quote_value(value, multiline=multiline)
    assert dict(parse(f"FROM foo\nSYSTEM {quoted}\n"))["system"] == value


@pytest.mark.parametrize("value", ['say """hi"""', "bell\x07", "nbsp\u00a0", "zero\u200bwidth"])
def test_quote_value_refuses_what_ollama_would_change(value):
    with pytest.raises(InputError, match="cannot write"):
        quote_value(value, multiline=True)


# Cases ported from ollama parser/parser_test.go (TestParseFileQuoted, TrimSpace, Comments, ...).
UPSTREAM_CASES = [
    ('\nFROM foo\nSYSTEM """\nThis is a\nmultiline system.\n"""\n', [("model", "foo"), ("system", "\nThis is a\nmultiline system.\n")]),
    ('\nFROM foo\nSYSTEM """\nThis is a\nmultiline system."""\n', [("model", "foo"), ("system", "\nThis is a\nmultiline system.")]),
    ('\nFROM foo\nSYSTEM """This is a\nmultiline system."""\n', [("model", "foo"), ("system", "This is a\nmultiline system.")]),
    ('\nFROM foo\nSYSTEM """This is a multiline system."""\n', [("model", "foo"), ("system", "This is a multiline system.")]),
    ('\nFROM foo\nSYSTEM """This is a multiline system.""\n', ParseError),
    ('\nFROM foo\nSYSTEM "\n', ParseError),
    ('\nFROM foo\nSYSTEM """\nThis is a multiline system with "quotes".\n"""\n', [("model", "foo"), ("system", '\nThis is a multiline system with "quotes".\n')]),
    ('\nFROM foo\nSYSTEM """"""\n', [("model", "foo"), ("system", "")]),
    ('\nFROM foo\nSYSTEM ""\n', [("model", "foo"), ("system", "")]),
    ('\nFROM foo\nSYSTEM "\'"\n', [("model", "foo"), ("system", "'")]),
    ('\nFROM foo\nSYSTEM """\'\'"\'""\'""\'"\'\'\'\'\'""\'""\'"""\n', [("model", "foo"), ("system", "''\"'\"\"'\"\"'\"'''''\"\"'\"\"'")]),
    ('\nFROM foo\nTEMPLATE """\n{{ .Prompt }}\n"""', [("model", "foo"), ("template", "\n{{ .Prompt }}\n")]),
    ("FROM foo\nPARAMETER stop <|eot_id|>\nPARAMETER num_ctx 8192\n", [("model", "foo"), ("stop", "<|eot_id|>"), ("num_ctx", "8192")]),
    ("\nFROM \"     model 1\"\nADAPTER  adapter3\nLICENSE \"MIT       \"\nPARAMETER param1        value1\n", [
        ("model", "     model 1"), ("adapter", "adapter3"), ("license", "MIT       "), ("param1", "value1")]),
    ("# comment\nFROM foo\n  # indented comment\nSYSTEM x # not a comment\n", [("model", "foo"), ("system", "x # not a comment")]),
    ("from foo\nsystem hi\n", [("model", "foo"), ("system", "hi")]),
    ("FROM foo\nBADCOMMAND x\n", ParseError),
    ("SYSTEM only\n", ParseError),
    ("FROM foo\nMESSAGE user hi\nMESSAGE bot hi\n", ParseError),
    ("FROM foo\nMESSAGE user Hey there!\nMESSAGE assistant Hello!\n", [("model", "foo"), ("message", "user: Hey there!"), ("message", "assistant: Hello!")]),
]


@pytest.mark.parametrize("text,expected", UPSTREAM_CASES)
def test_parser_mirror_matches_upstream_cases(text, expected):
    if expected is ParseError:
        with pytest.raises(ParseError):
            parse(text)
    else:
        assert parse(text) == expected


def test_create_request_typing_like_format_params():
    req = create_request(parse("FROM x\nPARAMETER temperature 0.5\nPARAMETER stop a\nPARAMETER stop b\nPARAMETER top_k 40\n"))
    assert req["parameters"] == {"temperature": 0.5, "stop": ["a", "b"], "top_k": 40}
    with pytest.raises(ParseError, match="unknown parameter"):
        create_request(parse("FROM x\nPARAMETER mmproj y\n"))
