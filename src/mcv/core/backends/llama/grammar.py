"""JSON schema -> GBNF grammar for the in-process backend.

llama-cpp-python's Python port of llama.cpp's json-schema-to-grammar differs
from the C++ one Ollama uses in two ways that break answers, fixed here:
- integer bounds (minimum, maximum, exclusive*) are ignored, so
  `{"maximum": 99}` can produce 777420507;
- its string `char` rule admits raw control characters, which JSON forbids
  inside strings (json.loads rejects the answer).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DIGITS = 16  # same bound as llama.cpp's integral-part rule
# llama.cpp common/json-schema-to-grammar.cpp's char rule: no raw control characters.
JSON_CHAR = r'[^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F] [0-9a-fA-F])'


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    from llama_cpp.llama_grammar import RESERVED_NAMES, BuiltinRule, SchemaConverter

    class StrictConverter(SchemaConverter):
        def _add_primitive(self, name, rule):
            if name == "char":
                rule = BuiltinRule(JSON_CHAR, [])
            return super()._add_primitive(name, rule)

        def visit(self, schema, name):
            bounds = integer_bounds(schema) if isinstance(schema, dict) else None
            if bounds is None:
                return super().visit(schema, name)
            rule_name = name + "-" if name in RESERVED_NAMES else name or "root"
            return self._add_rule(rule_name, f"({integer_rule(*bounds)}) space")

    converter = StrictConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)
    schema = converter.resolve_refs(json.loads(json.dumps(schema)), "input")
    converter.visit(schema, "")
    return converter.format_grammar()


def integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None] | None:
    """(lowest, highest) allowed for an integer schema with bounds, else None."""
    if schema.get("type") != "integer" or "$ref" in schema or "enum" in schema or "const" in schema:
        return None
    low = _bound(schema, "minimum", "exclusiveMinimum", +1)
    high = _bound(schema, "maximum", "exclusiveMaximum", -1)
    if low is None and high is None:
        return None
    return low, high


def _bound(schema: dict[str, Any], inclusive: str, exclusive: str, step: int) -> int | None:
    import math

    values = []
    if isinstance(schema.get(inclusive), (int, float)) and not isinstance(schema.get(inclusive), bool):
        value = schema[inclusive]
        values.append(math.ceil(value) if step > 0 else math.floor(value))
    if isinstance(schema.get(exclusive), (int, float)) and not isinstance(schema.get(exclusive), bool):
        value = schema[exclusive]
        values.append(math.floor(value) + 1 if step > 0 else math.ceil(value) - 1)
    if not values:
        return None
    return max(values) if step > 0 else min(values)


def integer_rule(low: int | None, high: int | None) -> str:
    """A GBNF alternation matching exactly the integers in [low, high] (None = open)."""
    alternatives: list[str] = []
    # Negative numbers: "-" followed by magnitudes in [max(1, -high), -low].
    if low is None or low < 0:
        smallest = 1 if high is None or high >= 0 else -high
        largest = None if low is None else -low
        alternatives += ['"-" ' + p for p in _magnitudes(smallest, largest)]
    # Zero and positive numbers in [max(0, low), high].
    if high is None or high >= 0:
        alternatives += _magnitudes(max(0, low or 0) if low is not None else 0, high)
    if not alternatives:
        raise ValueError(f"no integer satisfies minimum {low} and maximum {high}")
    return " | ".join(alternatives)


def _magnitudes(low: int, high: int | None) -> list[str]:
    """Digit patterns (no leading zeros) for the numbers low..high (high None = up to MAX_DIGITS digits)."""
    if high is None:
        width = len(str(low))
        patterns = _span(low, 10**width - 1)
        if width < MAX_DIGITS:
            patterns.append(f"[1-9] [0-9]{{{width},{MAX_DIGITS - 1}}}")
        return patterns
    return _span(low, high) if low <= high else []


def _span(low: int, high: int) -> list[str]:
    """Patterns for low..high, split into runs of equal digit count."""
    patterns: list[str] = []
    while low <= high:
        top = min(high, 10 ** len(str(low)) - 1)
        patterns += [" ".join(classes) for classes in _same_width(str(low), str(top))]
        low = top + 1
    return patterns


def _same_width(low: str, high: str) -> list[list[str]]:
    """Character-class sequences for the digit strings low..high of equal length."""
    if not low:
        return [[]]
    if low == high:
        return [[f'"{low}"']]
    first_low, first_high = int(low[0]), int(high[0])
    rest_low, rest_high = low[1:], high[1:]
    if first_low == first_high:
        return [[f'"{low[0]}"'] + tail for tail in _same_width(rest_low, rest_high)]
    every = ["[0-9]"] * len(rest_low)
    result: list[list[str]] = []
    start, end = first_low, first_high
    if rest_low != "0" * len(rest_low):
        result += [[f'"{first_low}"'] + tail for tail in _same_width(rest_low, "9" * len(rest_low))]
        start += 1
    if rest_high != "9" * len(rest_high):
        end -= 1
    if start <= end:
        result.append([_digit_class(start, end)] + every)
    if rest_high != "9" * len(rest_high):
        result += [[f'"{first_high}"'] + tail for tail in _same_width("0" * len(rest_high), rest_high)]
    return result


def _digit_class(start: int, end: int) -> str:
    return f'"{start}"' if start == end else f"[{start}-{end}]"
