"""The MCP tools as data, and how one call is asked: sandbox -> preset -> the core session.

    toolbox = Toolbox(settings, sandbox)
    toolbox.specs()                                  # what tools/list shows
    outcome = toolbox.call("describe_image", {"path": "shot.png", "mode": "ui"})
    outcome.text, outcome.structured, outcome.error  # what tools/call returns

Every tool is a preset of core/presets.py (or none, for `ask_image` and
`extract_json`) applied with `apply_preset` and asked with `Task.ask`, so a
schema is checked and retried exactly as `mcv ask --schema` does. One
session serves every call, one call at a time (the engine stays open
between calls: a local GGUF pair is loaded once); each call starts from the
configured parameters again.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from mcv.core.events import Done, Failed
from mcv.core.settings import Settings
from mcv.errors import InputError, McvError, UsageError
from mcv.plugins.mcp.sandbox import Sandbox

PATH_PROPERTY = {
    "type": "string",
    "description": "Path of a local image file (JPEG, PNG, WebP, GIF, TIFF, BMP, HEIC, AVIF), absolute or relative "
    "to the server's working folder. Only files inside the allowed folders can be read; URLs are not fetched.",
}
# describe_image's modes: a preset, plus words after its prompt.
MODES: dict[str, tuple[str, str | None]] = {
    "general": ("describe", None),
    "brief": ("caption", None),
    "ocr": ("ocr", None),
    "ui": (
        "describe",
        "This is a screenshot of a user interface: name the application or page, describe the layout, "
        "the controls and their states, and quote any error, dialog or status text exactly.",
    ),
    "diagram": (
        "describe",
        "This is a diagram or chart: say what kind it is, list its elements and how they connect "
        "(or the axes, series and values), and what it shows.",
    ),
}
EXTRACT_JSON_PROMPT = "Extract the information in this image as JSON matching the required schema. Reply with the JSON only."
_TOOL_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]
    output_schema: dict[str, Any] | None = None
    # arguments -> (preset name or None, words after the preset's prompt, JSON schema or None)
    plan: Callable[[Mapping[str, Any]], tuple[str | None, str | None, Any]] = field(compare=False, default=None)


@dataclass(frozen=True)
class Outcome:
    text: str
    structured: dict[str, Any] | None = None
    error: bool = False


class Cancelled(Exception):
    pass


def _object(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


def _structured(value: Any) -> dict[str, Any]:
    """structuredContent must be a JSON object (MCP up to 2025-11-25): anything else goes under "result"."""
    return value if isinstance(value, dict) else {"result": value}


def _output_schema(schema: Any) -> dict[str, Any] | None:
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object":
        return schema
    return {"type": "object", "properties": {"result": schema}, "required": ["result"]}


def json_schema_argument(value: Any) -> dict[str, Any] | str:
    """extract_json's `schema`: a JSON schema object, JSON text of one, `json`, or the
    shorthand `name, total float, date: ISO date` (never a file name: the sandbox decides files)."""
    from mcv.core.schema import check_schema, parse_schema, shorthand

    if isinstance(value, dict):
        return check_schema(value, origin="schema")
    if not isinstance(value, str) or not value.strip():
        raise UsageError("schema must be a JSON schema object, or text such as 'name, total float, date: ISO date'")
    text = value.strip()
    if text == "json" or text.startswith(("{", "[")):
        return parse_schema(text, origin="schema")
    return check_schema(shorthand(text, origin="schema"), origin="schema")


def build_specs(presets) -> list[ToolSpec]:
    words = {"type": "string", "description": "Extra instructions, added after the task's own prompt (optional)."}
    specs = [
        ToolSpec(
            "describe_image",
            "Describe a local image with MiniCPM-V, running on this computer. mode: general (a few sentences), "
            "brief (one sentence), ocr (the text in it), ui (a screenshot of an app), diagram (a chart or diagram).",
            _object({"path": PATH_PROPERTY, "mode": {"type": "string", "enum": list(MODES), "default": "general"}}, ["path"]),
            plan=lambda args: (*MODES[args.get("mode", "general")], None),
        ),
        ToolSpec(
            "extract_text",
            "The text in a local image, verbatim, in reading order (OCR by MiniCPM-V on this computer).",
            _object({"path": PATH_PROPERTY}, ["path"]),
            plan=lambda args: ("ocr", None, None),
        ),
        ToolSpec(
            "ask_image",
            "Ask MiniCPM-V, running on this computer, a question about a local image.",
            _object({"path": PATH_PROPERTY, "question": {"type": "string", "minLength": 1}}, ["path", "question"]),
            plan=lambda args: (None, args["question"], None),
        ),
        ToolSpec(
            "extract_json",
            "Extract data from a local image as JSON matching a schema: a JSON schema object, or fields written as "
            "'merchant, total float, date: ISO date' (types str, int, float, bool). The result is also structured content.",
            _object(
                {
                    "path": PATH_PROPERTY,
                    "schema": {"type": ["object", "string"], "description": "JSON schema object, or the field shorthand."},
                    "instructions": words,
                },
                ["path", "schema"],
            ),
            plan=lambda args: (None, args.get("instructions") or EXTRACT_JSON_PROMPT, json_schema_argument(args["schema"])),
        ),
    ]
    for preset in presets:
        name = "preset_" + _TOOL_NAME.sub("_", preset.name)
        specs.append(
            ToolSpec(
                name,
                f"The `{preset.name}` task of mcv on a local image: {preset.description}.",
                _object({"path": PATH_PROPERTY, "instructions": words}, ["path"]),
                output_schema=_output_schema(preset.schema),
                plan=lambda args, name=preset.name: (name, args.get("instructions"), None),
            )
        )
    return specs


class Toolbox:
    def __init__(self, settings: Settings, sandbox: Sandbox) -> None:
        from mcv.core.presets import all_presets
        from mcv.core.session import Session

        self.settings = settings
        self.sandbox = sandbox
        self.specs = {spec.name: spec for spec in build_specs(all_presets(settings.config))}
        self._session = Session(settings)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def call(self, name: str, arguments: Mapping[str, Any] | None, stop: threading.Event | None = None) -> Outcome:
        """Run one tool; a failure is an Outcome with error=True and one line (plus a hint)."""
        try:
            return self._call(name, dict(arguments or {}), stop or threading.Event())
        except McvError as err:
            return Outcome(f"mcv: {err.message}" + (f" ({err.hint})" if err.hint else ""), error=True)

    def _call(self, name: str, arguments: dict[str, Any], stop: threading.Event) -> Outcome:
        from mcv.core.presets import apply_preset, find_preset

        spec = self.specs.get(name)
        if spec is None:
            raise UsageError(f"no tool called {name!r}", hint="tools: " + ", ".join(self.specs))
        _check_arguments(spec, arguments)
        preset_name, words, schema = spec.plan(arguments)
        image = self.sandbox.read(arguments["path"])
        with self._lock:
            session = self._session
            # Each call starts from what the user configured (an earlier call's preset is gone).
            session.parameters = self.settings.parameters()
            session.prepare_settings = self.settings.prepare_settings()
            session.system = self.settings.system()
            preset = find_preset(self.settings.config, preset_name) if preset_name else None
            task = apply_preset(session, preset, words)
            if schema is not None:
                session.parameters = session.parameters.merged(format=schema)
            # Read under the lock: once it is released, the next call resets the session's parameters.
            wanted = session.parameters.format
            done = _finish(task.ask(session, [image]), stop)
        if wanted is not None:
            data = done.data
            return Outcome(json.dumps(data, ensure_ascii=False, indent=2), structured=_structured(data))
        return Outcome(done.answer.strip())


def _finish(turn, stop: threading.Event) -> Done:
    try:
        for event in turn:
            if stop.is_set():
                raise Cancelled()
            if isinstance(event, Failed):
                raise event.error
            if isinstance(event, Done):
                return event
    finally:
        turn.close()  # a cancelled call stops the engine
    raise McvError("the engine ended the turn without an answer")


def _check_arguments(spec: ToolSpec, arguments: dict[str, Any]) -> None:
    from jsonschema import exceptions, validators

    cls = validators.validator_for(spec.input_schema)
    error = exceptions.best_match(cls(spec.input_schema).iter_errors(arguments))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path)
        raise InputError(f"{spec.name}: " + (f"{where}: " if where else "") + error.message)

