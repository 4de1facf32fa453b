"""Rendering of answers, kept apart from the logic that produces them.

`pick_renderer(env, ...)` returns an object with `feed(chunk)` and
`finish(metrics, error)`; ask (and later chat) only feed it chunks.
"""

from __future__ import annotations

from mcv.cli.render.stream import JsonRenderer, MarkdownRenderer, PlainRenderer, pick_renderer

__all__ = ["JsonRenderer", "MarkdownRenderer", "PlainRenderer", "pick_renderer"]
