"""--schema's three written forms, llm's shorthand, and answers validated against a schema."""

from __future__ import annotations

import json

import pytest

from mcv.core.schema import answer_json, parse_schema, problem, shorthand
from mcv.errors import UsageError


def test_shorthand_follows_llm():
    assert shorthand("merchant, total float, date: ISO date") == {
        "type": "object",
        "properties": {
            "merchant": {"type": "string"},
            "total": {"type": "number"},
            "date": {"type": "string", "description": "ISO date"},
        },
        "required": ["merchant", "total", "date"],
    }


def test_shorthand_with_newlines_keeps_commas_in_descriptions():
    schema = shorthand("name: the name, as printed\ncount int\nok bool: yes or no\n")
    assert schema["properties"] == {
        "name": {"type": "string", "description": "the name, as printed"},
        "count": {"type": "integer"},
        "ok": {"type": "boolean", "description": "yes or no"},
    }
    assert schema["required"] == ["name", "count", "ok"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("total money", "unknown type 'money' for field 'total'"),
        ("a, a int", "field 'a' is given twice"),
        (": no name", "has no name"),
        ("a b c", "should be NAME [TYPE][: DESCRIPTION]"),
        ("9lives int", "is not a field name"),
        (" , ,", "no fields"),
    ],
)
def test_bad_shorthand_is_one_usage_error(text, message):
    with pytest.raises(UsageError) as info:
        shorthand(text)
    assert message in info.value.message


def test_a_comma_inside_a_description_gets_a_hint():
    with pytest.raises(UsageError) as info:
        shorthand("total float: the total, in EUR")
    assert info.value.message == "--schema: unknown type 'EUR' for field 'in'"
    assert "needs one field per line" in info.value.hint
    with pytest.raises(UsageError) as info:
        shorthand("total money")
    assert "per line" not in info.value.hint


def test_references_inside_the_schema_are_kept():
    schema = {"$defs": {"item": {"type": "string"}}, "type": "array", "items": {"$ref": "#/$defs/item"}}
    assert parse_schema(json.dumps(schema)) == schema
    assert problem('["a", 1]', schema)[1].startswith("at 1: 1 is not of type 'string'")


def test_parse_schema_takes_each_form(tmp_path):
    inline = '{"type": "object", "properties": {"total": {"type": "number"}}}'
    assert parse_schema(inline) == json.loads(inline)
    path = tmp_path / "receipt.json"
    path.write_text(inline)
    assert parse_schema(str(path)) == json.loads(inline)
    assert parse_schema("json") == "json"
    assert parse_schema("total float, merchant")["required"] == ["total", "merchant"]
    assert parse_schema("total")["properties"] == {"total": {"type": "string"}}  # a lone word naming no file


@pytest.mark.parametrize(
    "text, message",
    [
        ("missing.json", "--schema missing.json: no such file"),
        ("some/dir/schema", "no such file"),
        ('{"type": "object",', "is not valid JSON"),
        ("[1, 2]", "--schema must be a JSON object (a JSON schema), not list"),
        ('{"type": "thing"}', "is not a valid JSON schema"),
        ('{"properties": {"a": {"minLength": -1}}}', "(at properties/a/minLength)"),
        # a $ref that leads nowhere would otherwise crash the first validation, after the model answered
        ('{"type": "object", "properties": {"a": {"$ref": "#/$defs/gone"}}}', "$ref '#/$defs/gone' leads nowhere"),
        ('{"$ref": "https://example.com/schema.json"}', "leads nowhere inside the schema"),  # never downloaded
    ],
)
def test_bad_schemas_are_refused_before_anything_is_asked(text, message):
    with pytest.raises(UsageError) as info:
        parse_schema(text)
    assert message in info.value.message


SCHEMA = {
    "type": "object",
    "properties": {"total": {"type": "number"}, "date": {"type": "string", "format": "date"}},
    "required": ["total", "date"],
}


def test_a_matching_answer_is_parsed():
    assert problem('{"total": 4.2, "date": "2024-05-01"}', SCHEMA) == ({"total": 4.2, "date": "2024-05-01"}, None)
    # a whole answer in a code fence is unwrapped (models do that without a grammar)
    assert answer_json('```json\n{"a": 1}\n```') == {"a": 1}


@pytest.mark.parametrize(
    "text, said",
    [
        ('{"total": "4.20", "date": "2024-05-01"}', "at total: '4.20' is not of type 'number'"),
        ('{"total": 4.2}', "'date' is a required property"),
        ('{"total": 4.2, "date": "01/05/2024"}', "at date: '01/05/2024' is not a 'date'"),  # formats are checked
        ("The total is 4.20", "the answer is not JSON"),
        ("", "the answer is empty"),
    ],
)
def test_an_answer_that_does_not_match_says_what_is_wrong(text, said):
    value, wrong = problem(text, SCHEMA)
    assert value is None
    assert wrong.startswith(said)


def test_json_format_takes_any_json_value():
    assert problem("[1, 2]", "json") == ([1, 2], None)
    assert problem("nope", "json")[1].startswith("the answer is not JSON")
