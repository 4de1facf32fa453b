"""OLLAMA_HOST parsing matches Ollama's envconfig.Host() (its TestHost table)."""

from __future__ import annotations

import pytest

from mcv.core.ollama.host import DEFAULT_HOST, parse_ollama_host, resolve_host

# Copied from ollama/envconfig/config_test.go TestHost (HEAD fb30760).
UPSTREAM_CASES = {
    "empty": ("", "http://127.0.0.1:11434"),
    "only address": ("1.2.3.4", "http://1.2.3.4:11434"),
    "only port": (":1234", "http://:1234"),
    "address and port": ("1.2.3.4:1234", "http://1.2.3.4:1234"),
    "hostname": ("example.com", "http://example.com:11434"),
    "hostname and port": ("example.com:1234", "http://example.com:1234"),
    "zero port": (":0", "http://:0"),
    "too large port": (":66000", "http://:11434"),
    "too small port": (":-1", "http://:11434"),
    "ipv6 localhost": ("[::1]", "http://[::1]:11434"),
    "ipv6 world open": ("[::]", "http://[::]:11434"),
    "ipv6 no brackets": ("::1", "http://[::1]:11434"),
    "ipv6 + port": ("[::1]:1337", "http://[::1]:1337"),
    "extra space": (" 1.2.3.4 ", "http://1.2.3.4:11434"),
    "extra quotes": ('"1.2.3.4"', "http://1.2.3.4:11434"),
    "extra space+quotes": (' " 1.2.3.4 " ', "http://1.2.3.4:11434"),
    "extra single quotes": ("'1.2.3.4'", "http://1.2.3.4:11434"),
    "http": ("http://1.2.3.4", "http://1.2.3.4:80"),
    "http port": ("http://1.2.3.4:4321", "http://1.2.3.4:4321"),
    "https": ("https://1.2.3.4", "https://1.2.3.4:443"),
    "https port": ("https://1.2.3.4:4321", "https://1.2.3.4:4321"),
    "proxy path": ("https://example.com/ollama", "https://example.com:443/ollama"),
    "ollama.com": ("ollama.com", "https://ollama.com:443"),
}

# Further cases worked out from the same Go code (net.SplitHostPort, net.ParseIP, url.URL).
MORE_CASES = {
    "unspecified ipv4 kept": ("0.0.0.0", "http://0.0.0.0:11434"),
    "unspecified ipv4 with port kept": ("0.0.0.0:8080", "http://0.0.0.0:8080"),
    "trailing slash": ("example.com/", "http://example.com:11434"),
    "empty port": ("1.2.3.4:", "http://1.2.3.4:11434"),
    "non-numeric port": ("host:abc", "http://host:11434"),
    "ipv6 canonicalised": ("[0001:002:003:0004::1]", "http://[1:2:3:4::1]:11434"),
    "ipv4-mapped ipv6 printed as ipv4": ("::ffff:1.2.3.4", "http://1.2.3.4:11434"),
    "http with path and port": ("http://h:81/a/b", "http://h:81/a/b"),
    "path escaped": ("h/a b", "http://h:11434/a%20b"),
    "localhost": ("localhost", "http://localhost:11434"),
    "https ipv6 no port": ("https://[::1]", "https://[::1]:443"),
    "other scheme keeps default port": ("ftp://h", "ftp://h:11434"),
}


@pytest.mark.parametrize(
    "value,expected", list(UPSTREAM_CASES.values()) + list(MORE_CASES.values()),
    ids=list(UPSTREAM_CASES) + list(MORE_CASES),
)
def test_parse_matches_ollama(value: str, expected: str) -> None:
    assert parse_ollama_host(value) == expected


def test_default_when_nothing_is_set() -> None:
    assert resolve_host(None, {}) == DEFAULT_HOST == "http://127.0.0.1:11434"


def test_flag_beats_env_beats_config() -> None:
    env = {"OLLAMA_HOST": "envhost"}
    assert resolve_host("flaghost:1", env, "cfghost") == "http://flaghost:1"
    assert resolve_host(None, env, "cfghost") == "http://envhost:11434"
    assert resolve_host(None, {}, "cfghost:7") == "http://cfghost:7"


def test_blank_sources_do_not_hide_later_ones() -> None:
    # OLLAMA_HOST="" (or just quotes) is "not set", so the config file still counts.
    assert resolve_host("", {"OLLAMA_HOST": ' "" '}, "cfghost") == "http://cfghost:11434"
    assert resolve_host(None, {"OLLAMA_HOST": ""}, None) == DEFAULT_HOST


def test_every_source_is_parsed_the_same_way() -> None:
    assert resolve_host("https://h/p", {}) == "https://h:443/p"
    assert resolve_host(None, {}, "'[::1]:9'") == "http://[::1]:9"
