"""Presets as data: the built-ins, user presets from the config file, and apply_preset's precedence."""

from __future__ import annotations

import json

import pytest

from mcv.core.config import load_config, set_value
from mcv.core.images.budget import fit_to_budget
from mcv.core.images.grid import slice_grid
from mcv.core.presets import BUILT_IN, FULL_BUDGET, RECEIPT_SCHEMA, SMALL_BUDGET, all_presets, apply_preset, find_preset
from mcv.core.schema import check_schema, problem
from mcv.core.session import Session
from mcv.core.settings import Settings
from mcv.errors import UsageError


@pytest.fixture
def environ(tmp_path):
    return {"MCV_CONFIG": str(tmp_path / "conf" / "config.toml")}


def write_config(environ, text: str) -> None:
    from pathlib import Path

    path = Path(environ["MCV_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_the_built_in_set():
    assert list(BUILT_IN) == ["describe", "caption", "alt", "ocr", "table", "receipt", "tags"]
    for name in ("ocr", "table", "receipt"):
        assert BUILT_IN[name].max_pixels == FULL_BUDGET == 9 * 448 * 448
    for name in ("caption", "alt", "tags"):
        assert BUILT_IN[name].max_pixels == SMALL_BUDGET < FULL_BUDGET
    assert BUILT_IN["alt"].max_chars == 125
    assert "125 characters" in BUILT_IN["alt"].prompt
    assert BUILT_IN["receipt"].schema is RECEIPT_SCHEMA and BUILT_IN["tags"].schema["type"] == "array"
    for preset in BUILT_IN.values():
        if isinstance(preset.schema, dict):
            check_schema(preset.schema)  # valid for its draft
    assert [p.xmp for p in BUILT_IN.values()] == ["description", "title", "alt", None, None, None, "subject"]


def test_the_receipt_schema_asks_for_what_the_issue_lists():
    properties = RECEIPT_SCHEMA["properties"]
    assert set(RECEIPT_SCHEMA["required"]) == {"merchant", "date", "currency", "items", "subtotal", "tax", "total"}
    assert set(properties["items"]["items"]["required"]) == {"name", "quantity", "unit_price", "total"}
    good = {
        "merchant": "Corner Shop", "date": "2024-05-01", "currency": "EUR",
        "items": [{"name": "milk", "quantity": 2, "unit_price": 1.25, "total": 2.5}],
        "subtotal": 2.5, "tax": None, "total": 2.5,
    }  # fmt: skip
    assert problem(json.dumps(good), RECEIPT_SCHEMA) == (good, None)
    assert "is not a 'date'" in problem(json.dumps({**good, "date": "May 1st"}), RECEIPT_SCHEMA)[1]
    assert "does not match" in problem(json.dumps({**good, "currency": "euro"}), RECEIPT_SCHEMA)[1]


@pytest.mark.parametrize("aspect", [1.0, 4 / 3, 3 / 2, 16 / 9, 2.0, 3.0, 5.0, 10.0, 0.75, 0.5, 0.2])
def test_the_small_budget_means_at_most_four_slices(aspect):
    """Why 3 * 448^2: mtmd picks ceil(area/448^2) +-1 slices, so <= 3 * 448^2 px is <= 4 slices at any shape."""
    width = int((12e6 * aspect) ** 0.5)
    height = int(width / aspect)
    small = fit_to_budget(width, height, SMALL_BUDGET)
    cols, rows = slice_grid(*small) or (0, 0)
    assert cols * rows <= 4
    full = fit_to_budget(width, height, FULL_BUDGET)
    assert cols * rows < (lambda g: g[0] * g[1])(slice_grid(*full))  # fewer than with the full budget


def test_a_config_table_changes_a_built_in_field_by_field(environ):
    write_config(environ, '[presets.caption]\nprompt = "One short line, in German."\noptions = { temperature = 0.2 }\n')
    caption = find_preset(load_config(environ), "caption")
    assert caption.prompt == "One short line, in German."
    assert caption.options == {"temperature": 0.2}
    assert caption.max_pixels == SMALL_BUDGET and caption.xmp == "title"  # kept from the built-in
    assert caption.source.startswith("built-in, changed in ")


def test_a_user_preset_with_shorthand_schema_and_a_relative_schema_file(environ, tmp_path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "invoice.json").write_text('{"type": "object", "required": ["number"]}')
    write_config(
        environ,
        "[presets.bill]\n"
        'prompt = "Read the bill."\n'
        'schema = "number, total float: the amount due"\n'
        'max_pixels = "full"\n'
        "[presets.invoice]\n"
        'prompt = "Read the invoice."\n'
        'schema = "invoice.json"\n'
        "max_pixels = 1000000\n"
        'xmp = "none"\n',
    )
    config = load_config(environ)
    bill = find_preset(config, "bill")
    assert bill.schema["properties"]["total"] == {"type": "number", "description": "the amount due"}
    assert bill.max_pixels == FULL_BUDGET and bill.xmp == "description"
    invoice = find_preset(config, "invoice")
    assert invoice.schema == {"type": "object", "required": ["number"]}
    assert invoice.max_pixels == 1_000_000 and invoice.xmp is None
    assert [p.name for p in all_presets(config)][-2:] == ["bill", "invoice"]


@pytest.mark.parametrize(
    "table, message",
    [
        ('[presets.x]\nsystem = "s"\n', "a new preset needs a prompt"),
        ('[presets.x]\nprompt = "p"\ncolour = "red"\n', "unknown field 'colour'"),
        ('[presets.x]\nprompt = "p"\noptions = { temprature = 1 }\n', "unknown option 'temprature'"),
        ('[presets.x]\nprompt = "p"\noptions = { num_predict = "many" }\n', "option 'num_predict' must be an integer"),
        ('[presets.x]\nprompt = "p"\nmax_pixels = -5\n', "max_pixels must be a positive whole number"),
        ('[presets.x]\nprompt = "p"\nschema = "total money"\n', "unknown type 'money'"),
        ('[presets.x]\nprompt = "p"\nxmp = "caption"\n', "xmp must be one of"),
        ('[presets.x]\nprompt = 3\n', "prompt must be non-empty text"),
        ('presets = "oops"\n', "must be a table"),
    ],
)
def test_a_broken_user_preset_is_one_clear_error(environ, table, message):
    write_config(environ, table)
    with pytest.raises(UsageError) as info:
        find_preset(load_config(environ), "x")
    assert message in info.value.message
    if "presets.x" in table:
        assert info.value.message.startswith("preset 'x' in ")


def test_an_unknown_preset_names_the_known_ones(environ):
    with pytest.raises(UsageError) as info:
        find_preset(load_config(environ), "recipe")
    assert info.value.message == "no preset called 'recipe'"
    assert "receipt" in info.value.hint and "tags" in info.value.hint


def test_config_set_keeps_the_presets_tables(environ):
    write_config(environ, '[presets.mine]\nprompt = "Mine."\n')
    set_value("model", "minicpm-v:2.5", environ)
    config = load_config(environ)
    assert config.get("model") == "minicpm-v:2.5"
    assert find_preset(config, "mine").prompt == "Mine."


def test_apply_preset_sets_the_session_and_the_command_line_wins(environ):
    write_config(environ, 'temperature = 0.9\nsystem = "From the file."\n')
    with Session(Settings.load(environ)) as session:
        task = apply_preset(session, BUILT_IN["ocr"], "only the first column")
        assert session.parameters.options == {"temperature": 0}  # the preset beats the config file
        assert session.system == BUILT_IN["ocr"].system
        assert session.prepare_settings.max_pixels == FULL_BUDGET
        assert task.prompt == BUILT_IN["ocr"].prompt + "\n\nonly the first column"
        assert task.max_chars is None
    flags = {"temperature": 0.5, "system": "From the flag.", "images.max_pixels": 500_000}
    with Session(Settings.load(environ, flags=flags)) as session:
        task = apply_preset(session, BUILT_IN["receipt"])
        assert session.parameters.options == {"temperature": 0.5}
        assert session.system == "From the flag."
        assert session.prepare_settings.max_pixels == 500_000
        assert session.parameters.format is RECEIPT_SCHEMA
        assert task.prompt == BUILT_IN["receipt"].prompt
    with Session(Settings.load(environ)) as session:
        assert apply_preset(session, None, "just this").prompt == "just this"
        assert session.parameters.options == {"temperature": 0.9}
