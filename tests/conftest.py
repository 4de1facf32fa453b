"""Shared fixtures live in tests/support/; this file only wires them in."""

pytest_plugins = [
    "support.isolation",
    "support.ollama_standin",
    "support.openai_standin",
    "support.images",
    "support.tinypairs",
    "support.hf_server",
    "support.cli",
    "support.desktop",
]
