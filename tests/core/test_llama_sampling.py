"""Sampling defaults/overrides and the JSON-schema grammar (integer bounds)."""

from __future__ import annotations

import re

import pytest

from mcv.core.backends.llama.sampling import RANDOM_SEED, grammar_for, plan
from mcv.core.backends.llama.grammar import integer_rule, schema_to_gbnf
from mcv.errors import InputError
from mcv.modelfile import generations

V25 = generations.get("2.5")


def test_defaults_come_from_the_record():
    result = plan(V25, {})
    assert (result.temperature, result.top_p, result.top_k, result.repeat_penalty) == (0.7, 0.8, 100, 1.05)
    assert result.stop == V25.stop
    assert result.seed == RANDOM_SEED and result.num_predict is None


def test_ollama_options_override():
    result = plan(V25, {"temperature": 0, "top_k": 1, "seed": 42, "num_predict": 9, "stop": ["###"], "num_ctx": 99})
    assert result.greedy and result.top_k == 1 and result.seed == 42 and result.num_predict == 9
    assert result.stop == ("###",)  # request stops replace the model's, as in Ollama


@pytest.mark.parametrize(
    "options",
    [{"temperature": "hot"}, {"top_k": 1.5}, {"seed": True}, {"stop": 3}, {"stop": ["a", 1]}],
)
def test_bad_option_values_are_input_errors(options):
    with pytest.raises(InputError):
        plan(V25, options)


def test_negative_num_predict_and_seed_mean_unbounded_and_random():
    result = plan(V25, {"num_predict": -1, "seed": -1})
    assert result.num_predict is None and result.seed == RANDOM_SEED


def test_format_values():
    assert grammar_for(None) is None
    assert grammar_for("json") is not None
    with pytest.raises(InputError):
        grammar_for("yaml")
    with pytest.raises(InputError):
        grammar_for({"type": "integer", "minimum": 5, "maximum": 1})


def _regex(rule: str) -> re.Pattern:
    alternatives = [a.replace('"-" ', "-").replace('"', "").replace(" ", "") for a in rule.split(" | ")]
    return re.compile("^(?:" + "|".join(alternatives) + ")$")


@pytest.mark.parametrize(
    "low, high",
    [(0, 99), (1, None), (None, 5), (-5, 5), (-120, -7), (7, 7), (19, 2021), (None, -3), (-3, None), (10, 10000)],
)
def test_integer_rule_matches_exactly_the_range(low, high):
    pattern = _regex(integer_rule(low, high))
    for n in range(-2500, 12000):
        inside = (low is None or n >= low) and (high is None or n <= high)
        assert bool(pattern.match(str(n))) == inside, n
    assert not pattern.match("007") and not pattern.match("-0")


def test_schema_grammar_bounds_integers_and_keeps_the_rest():
    grammar = schema_to_gbnf(
        {
            "type": "object",
            "properties": {"n": {"type": "integer", "exclusiveMinimum": 0, "maximum": 12}, "s": {"type": "string"}},
            "required": ["n", "s"],
        }
    )
    rules = dict(line.split(" ::= ", 1) for line in grammar.splitlines())
    assert rules["n"] == '([1-9] | "1" [0-2]) space'
    assert rules["root"] == '"{" space n-kv "," space s-kv "}" space'
    assert rules["s-kv"].endswith("string")


def test_schema_strings_exclude_raw_control_characters():
    rules = dict(line.split(" ::= ", 1) for line in schema_to_gbnf({"type": "string"}).splitlines())
    assert rules["char"].startswith(r'[^"\\\x7F\x00-\x1F]')
