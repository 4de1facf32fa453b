"""Files installed nearly as they are live in mcv/plugins/templates (package data)."""

from __future__ import annotations

import string
from importlib.resources import files


def render(name: str, **values: str) -> bytes:
    """The template `name` with its `${key}` placeholders filled (a missing one is a KeyError)."""
    text = (files("mcv.plugins") / "templates" / name).read_text(encoding="utf-8")
    return string.Template(text).substitute(values).encode("utf-8")
