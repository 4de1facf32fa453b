"""Presets: the jobs people bring to a vision model, as data.

A preset is a prompt plus what the job needs: a system prompt, request
options, a JSON schema, a length limit, and a pixel budget. Every surface
takes `--preset NAME` and hands it to `apply_preset`, the one function that
sets a session up for it; nothing restates a preset per surface.

Pixel budgets. `ocr`, `table` and `receipt` read small print, so they get
the model's full budget (9 slices of 448x448, ~1.8 MP; shrinking below it
is what kills OCR, LibreChat #11060). `caption`, `alt` and `tags` look at
the picture as a whole: they get 3 * 448^2 px (602,112). mtmd picks
min(ceil(area / 448^2), 9) +-1 slices, so at this budget an image is cut
into at most 4 slices whatever its aspect ratio (a 4:3 photo: 2x2), and the
model spends (1 + 4) * 64 = 320 image embeddings on it instead of 640
(MiniCPM-V 2.6 and later; 480 instead of 960 on 2.5): half the prefill.
`describe` keeps the configured budget.

User presets live in the config file, one table each; a table named like a
built-in changes only the fields it gives:

    [presets.invoice]
    description = "an invoice as JSON"
    prompt = "Read this invoice."
    schema = "number, date: ISO date, total float"   # or a JSON file, or JSON text
    max_pixels = "full"                              # or a number of pixels
    options = { temperature = 0 }

Precedence, as everywhere: the command line > the preset > environment and
config file > defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from mcv.core.images.types import MINICPMV_MAX_PIXELS
from mcv.core.structured import Task
from mcv.errors import UsageError

if TYPE_CHECKING:
    from mcv.core.config import Config
    from mcv.core.session import Session

FULL_BUDGET = MINICPMV_MAX_PIXELS  # 1,806,336 px: every slice the model can see
SMALL_BUDGET = 3 * 448 * 448  # 602,112 px: at most 4 slices (see the module docstring)
XMP_FIELDS = ("description", "title", "subject", "alt")  # what a batch's --xmp writes (core/batch/xmp.py)
BUILT_IN_SOURCE = "built-in"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str  # one line, for `mcv presets ls`
    prompt: str
    system: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    schema: dict[str, Any] | str | None = None  # a JSON schema, or "json"
    max_pixels: int | None = None  # None: the configured budget
    max_chars: int | None = None  # the answer's length limit, checked (core/structured.py)
    xmp: str | None = None  # the XMP field a batch writes the answer to (XMP_FIELDS)
    source: str = BUILT_IN_SOURCE

    def prompt_with(self, words: str | None) -> str:
        """The preset's prompt, with the user's own words (if any) after it."""
        return f"{self.prompt}\n\n{words.strip()}" if words and words.strip() else self.prompt

    def as_table(self) -> dict[str, Any]:
        """The preset as a config-file table (what `mcv presets show` prints)."""
        import json

        table: dict[str, Any] = {"description": self.description, "prompt": self.prompt}
        if self.system is not None:
            table["system"] = self.system
        if self.options:
            table["options"] = dict(self.options)
        if self.schema is not None:
            table["schema"] = self.schema if isinstance(self.schema, str) else json.dumps(self.schema, indent=2)
        table["max_pixels"] = "configured" if self.max_pixels is None else self.max_pixels
        if self.max_chars is not None:
            table["max_chars"] = self.max_chars
        if self.xmp is not None:
            table["xmp"] = self.xmp
        return table


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    # anyOf rather than "type": [..., "null"]: llama.cpp's grammar converters
    # drop a `format` from a type list, but keep it inside anyOf.
    return {"anyOf": [schema, {"type": "null"}]}


_MONEY = {"type": "number"}
RECEIPT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # maxLength bounds a string the model loops in (ollama#6751) to a grammar rule.
        "merchant": {"type": "string", "maxLength": 120},
        "date": _nullable({"type": "string", "format": "date", "description": "ISO 8601, YYYY-MM-DD"}),
        "currency": _nullable({"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code"}),
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 120},
                    "quantity": {"type": "number"},
                    "unit_price": _nullable(_MONEY),
                    "total": _MONEY,
                },
                "required": ["name", "quantity", "unit_price", "total"],
            },
        },
        "subtotal": _nullable(_MONEY),
        "tax": _nullable(_MONEY),
        "total": _MONEY,
    },
    "required": ["merchant", "date", "currency", "items", "subtotal", "tax", "total"],
}
TAGS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1, "maxLength": 40},
    "minItems": 1,
    "maxItems": 20,
}

BUILT_IN: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "describe",
            "a few sentences on the whole picture",
            "Describe this image: the main subject, the setting, notable details and any visible text.",
            xmp="description",
        ),
        Preset(
            "caption",
            "one sentence",
            "Write a one-sentence caption for this image. Reply with the caption only.",
            options={"num_predict": 120},
            max_pixels=SMALL_BUDGET,
            xmp="title",
        ),
        Preset(
            "alt",
            "alt text for screen readers, at most 125 characters",
            "Write alt text for this image for people who use a screen reader: what matters in it, "
            "in at most 125 characters. Do not begin with 'Image of' or 'Picture of'. Reply with the alt text only.",
            options={"num_predict": 100},
            max_pixels=SMALL_BUDGET,
            max_chars=125,
            xmp="alt",
        ),
        Preset(
            "ocr",
            "the verbatim text in reading order, no commentary",
            "Transcribe all the text in this image exactly as written, in reading order, keeping the line breaks. "
            "Reply with the text only: no commentary, no headings, no description of the image.",
            system="You transcribe text from images faithfully. You never add, summarise or explain.",
            options={"temperature": 0},
            max_pixels=FULL_BUDGET,
        ),
        Preset(
            "table",
            "the table as a Markdown table",
            "Transcribe the table in this image as a Markdown table. Keep every row and column and copy each "
            "cell's text exactly. Reply with the table only.",
            options={"temperature": 0},
            max_pixels=FULL_BUDGET,
        ),
        Preset(
            "receipt",
            "JSON: merchant, ISO date, currency, items, subtotal, tax, total",
            "Read this receipt. Give the merchant; the date as YYYY-MM-DD; the currency as an ISO 4217 code "
            "(EUR, USD, ...); every item with its name, quantity, unit price and line total; then the subtotal, "
            "the tax and the total, as numbers. Use null for what the receipt does not show.",
            options={"temperature": 0},
            schema=RECEIPT_SCHEMA,
            max_pixels=FULL_BUDGET,
        ),
        Preset(
            "tags",
            "a JSON list of keywords",
            "List 5 to 15 keywords for this image (subjects, places, activities, colours, mood) "
            "as a JSON array of lower-case strings.",
            options={"num_predict": 200},
            schema=TAGS_SCHEMA,
            max_pixels=SMALL_BUDGET,
            xmp="subject",
        ),
    )
}


# --- the one way a surface uses a preset ------------------------------------------------------


def apply_preset(session: "Session", preset: Preset | None, words: str | None = None) -> Task:
    """Set `session` up for `preset` and return the Task to ask (`task.ask(session, images)`).

    Sets the options, the schema (`Parameters.format`), the system prompt
    and the pixel budget, except where the command line already set them
    (config values come from flags there: those stay). Call it before
    merging the command line's own `--option`s and `--schema`, which then
    win. `words` (the user's prompt) go after the preset's prompt.
    Without a preset: Task(words).
    """
    if preset is None:
        return Task(words)
    config = session.settings.config
    options = dict(preset.options)
    if _from_flag(config, "temperature"):
        options.pop("temperature", None)
    session.parameters = session.parameters.merged(options=options, format=preset.schema)
    if preset.system is not None and not _from_flag(config, "system"):
        session.system = preset.system
    if preset.max_pixels is not None and not _from_flag(config, "images.max_pixels"):
        session.prepare_settings = replace(session.prepare_settings, max_pixels=preset.max_pixels)
    return Task(preset.prompt_with(words), preset.max_chars)


def _from_flag(config: "Config", key: str) -> bool:
    return config.lookup(key)[1] == "flag"


# --- finding presets: built-ins, then the config file's tables -----------------------------------


def find_preset(config: "Config", name: str) -> Preset:
    """The preset called `name` (a config table may change or add one); UsageError if none."""
    tables = config.table("presets")
    if name in tables:
        return _from_table(name, tables[name], config.path)
    if name in BUILT_IN:
        return BUILT_IN[name]
    known = sorted({*BUILT_IN, *tables})
    raise UsageError(f"no preset called {name!r}", hint="presets: " + ", ".join(known) + " (see `mcv presets ls`)")


def all_presets(config: "Config") -> list[Preset]:
    """Every preset: the built-ins (as the config file may change them), then the user's own."""
    tables = config.table("presets")
    names = [*BUILT_IN, *sorted(set(tables) - set(BUILT_IN))]
    return [find_preset(config, name) for name in names]


_FIELDS = {"description", "prompt", "system", "options", "schema", "max_pixels", "max_chars", "xmp"}


def _from_table(name: str, table: Any, path: Path) -> Preset:
    where = f"preset {name!r} in {path}"
    if not _NAME.fullmatch(name):
        raise UsageError(f"{where}: a preset name is letters, digits, '-', '_' and '.'")
    if not isinstance(table, Mapping):
        raise UsageError(f"{where}: expected a table ([presets.{name}]), got a {type(table).__name__}")
    unknown = sorted(set(table) - _FIELDS)
    if unknown:
        raise UsageError(f"{where}: unknown field {unknown[0]!r}", hint="fields: " + ", ".join(sorted(_FIELDS)))
    base = BUILT_IN.get(name)
    if base is None and "prompt" not in table:
        raise UsageError(f"{where}: a new preset needs a prompt")
    changes: dict[str, Any] = {}
    for key in ("description", "prompt", "system"):
        if key in table:
            changes[key] = _text(table[key], f"{where}: {key}")
    if "options" in table:
        changes["options"] = _options(table["options"], where)
    if "schema" in table:
        changes["schema"] = _schema(table["schema"], where, path)
    if "max_pixels" in table:
        changes["max_pixels"] = _budget(table["max_pixels"], where)
    if "max_chars" in table:
        changes["max_chars"] = _positive(table["max_chars"], f"{where}: max_chars")
    if "xmp" in table:
        value = _text(table["xmp"], f"{where}: xmp")
        if value not in (*XMP_FIELDS, "none"):
            raise UsageError(f"{where}: xmp must be one of {', '.join(XMP_FIELDS)} or none, not {value!r}")
        changes["xmp"] = None if value == "none" else value
    source = f"built-in, changed in {path}" if base is not None else str(path)
    if base is None:
        base = Preset(name, "", "", xmp="description")
        changes.setdefault("description", f"from {path.name}")
    return replace(base, **changes, source=source)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{what} must be non-empty text")
    return value


def _options(value: Any, where: str) -> dict[str, Any]:
    from mcv.core.options import check_options

    if not isinstance(value, Mapping):
        raise UsageError(f"{where}: options must be a table, e.g. options = {{ temperature = 0 }}")
    try:
        check_options(value)
    except UsageError as err:
        raise UsageError(f"{where}: {err.message}", hint=err.hint) from None
    return dict(value)


def _schema(value: Any, where: str, path: Path) -> dict[str, Any] | str:
    from mcv.core.schema import check_schema, parse_schema

    origin = f"{where}: schema"
    if isinstance(value, Mapping):
        return check_schema(dict(value), origin)
    if not isinstance(value, str):
        raise UsageError(f"{origin} must be a table, JSON text, a file name or the shorthand")
    relative = path.parent / Path(value.strip()).expanduser()
    if not value.lstrip().startswith("{") and relative.is_file():
        value = str(relative)  # a file named relative to the config file
    return parse_schema(value, origin=origin)


def _budget(value: Any, where: str) -> int | None:
    if value == "full":
        return FULL_BUDGET
    if value == "configured":
        return None
    return _positive(value, f"{where}: max_pixels", also="'full', 'configured'")


def _positive(value: Any, what: str, also: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        extra = f" (or {also})" if also else ""
        raise UsageError(f"{what} must be a positive whole number{extra}, not {value!r}")
    return value
