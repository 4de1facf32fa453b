"""JSON schemas for answers: written three ways, checked, and answers validated.

`--schema` (and a preset's `schema`) takes:
- `json`: any JSON value;
- inline JSON: `{"type": "object", ...}`;
- a file holding a JSON schema;
- `llm`'s shorthand: `"merchant, total float, date: ISO date"`: fields
  separated by commas (or by newlines when there is a newline), each
  `NAME [TYPE][: DESCRIPTION]`, TYPE one of str (default), int, float, bool;
  every field is required. Like `llm`, a word with neither a space nor a
  comma is read as a file name first; unlike it, a lone word that names no
  file is a one-field shorthand (`--schema total`).

jsonschema is imported only when a schema is used (not on `mcv ask`'s path
otherwise); its FormatChecker is on, so `"format": "date"` is checked too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from mcv.errors import UsageError

Schema = dict[str, Any]
SHORTHAND_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")
_FENCE = re.compile(r"^```[A-Za-z0-9_-]*\s*\n(.*)\n```$", re.DOTALL)


def parse_schema(text: str, *, origin: str = "--schema") -> Schema | str:
    """A schema (dict) or "json" from any of the written forms; UsageError if none fits."""
    stripped = text.strip()
    if not stripped:
        raise UsageError(f"{origin} is empty")
    if stripped == "json":
        return "json"
    if stripped.startswith(("{", "[")):
        return _checked(_json_object(stripped, origin), origin)
    candidate = Path(stripped).expanduser()
    if candidate.is_file():
        try:
            source = candidate.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read schema file {stripped}: {err}") from None
        return _checked(_json_object(source, f"schema file {stripped}"), origin)
    if "," in stripped or any(c.isspace() for c in stripped):
        return _checked(shorthand(stripped, origin=origin), origin)
    if stripped.lower().endswith(".json") or "/" in stripped or "." in stripped:
        raise UsageError(f"{origin} {stripped}: no such file")
    return _checked(shorthand(stripped, origin=origin), origin)


def shorthand(text: str, *, origin: str = "--schema") -> Schema:
    """`llm`'s concise schema syntax -> a JSON schema of one object."""
    separator = "\n" if "\n" in text else ","
    properties: dict[str, Any] = {}
    described = False  # a field before this one had a description
    for raw in text.split(separator):
        field = raw.strip()
        if not field:
            continue
        head, colon, description = field.partition(":")
        words = head.split()
        if not words:
            raise UsageError(f"{origin}: field {field!r} has no name before ':'")
        if len(words) > 2:
            raise UsageError(f"{origin}: field {field!r} should be NAME [TYPE][: DESCRIPTION]")
        name = words[0]
        if not _NAME.fullmatch(name):
            raise UsageError(f"{origin}: {name!r} is not a field name (letters, digits, _ and -)")
        kind = words[1] if len(words) == 2 else "str"
        if kind not in SHORTHAND_TYPES:
            hint = "types: " + ", ".join(SHORTHAND_TYPES)
            if separator == "," and described:  # likely the tail of a description holding a comma
                hint += "; a description with a comma in it needs one field per line"
            raise UsageError(f"{origin}: unknown type {kind!r} for field {name!r}", hint=hint)
        if name in properties:
            raise UsageError(f"{origin}: field {name!r} is given twice")
        properties[name] = {"type": SHORTHAND_TYPES[kind]}
        if colon and description.strip():
            properties[name]["description"] = description.strip()
            described = True
    if not properties:
        raise UsageError(f"{origin}: no fields")
    return {"type": "object", "properties": properties, "required": list(properties)}


def check_schema(schema: Schema, origin: str = "--schema") -> Schema:
    """The schema itself must be valid for its draft (jsonschema's meta-schema check)."""
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as err:
        where = "/".join(str(p) for p in err.absolute_path)
        raise UsageError(f"{origin} is not a valid JSON schema: {err.message}" + (f" (at {where})" if where else "")) from None
    _check_references(schema, cls, origin)
    return schema


def _check_references(schema: Schema, cls: Any, origin: str) -> None:
    """Every `$ref` must resolve inside the schema: nothing is fetched, and a reference that
    leads nowhere would otherwise fail only when the first answer is validated."""
    from referencing import Registry, Resource
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import specification_with

    resolver = None
    for ref in _references(schema):
        if resolver is None:  # as validation resolves: the schema's own draft, an empty registry
            draft = specification_with(cls.META_SCHEMA.get("$schema", ""))
            resolver = Registry().resolver_with_root(Resource.from_contents(schema, default_specification=draft))
        try:
            resolver.lookup(ref)
        except Unresolvable:
            raise UsageError(
                f"{origin}: $ref {ref!r} leads nowhere inside the schema",
                hint="only references within the schema are followed, e.g. #/$defs/item (nothing is downloaded)",
            ) from None


def _references(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.append(ref)
        for value in node.values():
            found.extend(_references(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_references(value))
    return found


def answer_json(text: str) -> Any:
    """The JSON value of an answer; a whole answer in one ``` fence is unwrapped. ValueError if none."""
    stripped = text.strip()
    fenced = _FENCE.match(stripped)
    if fenced:
        stripped = fenced.group(1).strip()
    return json.loads(stripped)


def problem(text: str, schema: Schema | str) -> tuple[Any, str | None]:
    """(parsed value, None) when `text` is JSON matching `schema`; else (None, what is wrong, one line)."""
    try:
        value = answer_json(text)
    except ValueError as err:
        return None, f"the answer is not JSON ({err})" if text.strip() else "the answer is empty"
    if schema == "json":
        return value, None
    from jsonschema import exceptions, validators

    cls = validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    error = exceptions.best_match(validator.iter_errors(value))
    if error is None:
        return value, None
    where = "/".join(str(p) for p in error.absolute_path)
    return None, (f"at {where}: " if where else "") + _short(error.message)


def _json_object(text: str, origin: str) -> Schema:
    try:
        value = json.loads(text)
    except ValueError as err:
        raise UsageError(f"{origin} is not valid JSON: {err}") from None
    if not isinstance(value, dict):
        raise UsageError(f"{origin} must be a JSON object (a JSON schema), not {type(value).__name__}")
    return value


def _checked(schema: Schema, origin: str) -> Schema:
    return check_schema(schema, origin)


def _short(message: str, limit: int = 300) -> str:
    flat = " ".join(message.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
