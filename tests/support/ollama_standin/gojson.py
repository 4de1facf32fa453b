"""encoding/json binding as gin's ShouldBindJSON does it for Ollama's request
types: type errors (first one wins, decoding goes on), errors from custom
UnmarshalJSON methods (abort at once), case-insensitive field names, unknown
fields ignored, trailing data after the object ignored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .golang import b64decode, parse_duration

class GoFloat(float):
    """A JSON number written with a fraction or exponent (keeps its text)."""

    literal: str

    def __new__(cls, literal: str) -> "GoFloat":
        obj = super().__new__(cls, literal)
        obj.literal = literal
        return obj


class JSONError(Exception):
    """The error text Ollama would answer with 400."""


@dataclass(frozen=True)
class T:
    """A Go type for decoding: kind plus what errors call it."""

    kind: str  # string bool int float any raw slice map struct imagedata duration think
    go: str
    elem: "T | None" = None
    fields: dict[str, "T"] = field(default_factory=dict)
    alias: bool = False  # a struct with UnmarshalJSON via `type Alias X`


STRING = T("string", "string")
BOOL = T("bool", "bool")
INT = T("int", "int")
ANY = T("any", "interface {}")
RAW = T("raw", "json.RawMessage")
IMAGEDATA = T("imagedata", "api.ImageData")
DURATION = T("duration", "api.Duration")
THINK = T("think", "api.ThinkValue")


def slice_of(elem: T) -> T:
    return T("slice", "[]" + elem.go, elem=elem)


def map_of(elem: T) -> T:
    return T("map", f"map[string]{elem.go}", elem=elem)


def struct(go: str, fields: dict[str, T], *, alias: bool = False) -> T:
    return T("struct", go, fields=fields, alias=alias)


def decode(body: bytes, schema: T) -> dict:
    """Decode `body` like gin's ShouldBindJSON into `schema`.

    Returns the parsed object (a dict; {} for `null`). Raises JSONError with
    Go's message, or EOFError for an empty body ("missing request body").
    """
    text = body.decode("utf-8", "replace")
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise EOFError
    try:
        value, _ = json.JSONDecoder(
            parse_float=GoFloat, parse_constant=_reject_constant
        ).raw_decode(text, start)
    except json.JSONDecodeError as err:
        raise JSONError(_syntax_message(text, err)) from None
    except _Constant as err:  # NaN / Infinity are not JSON for Go
        if err.name.startswith("-"):
            raise JSONError("invalid character 'I' in numeric literal") from None
        raise JSONError(f"invalid character '{err.name[0]}' looking for beginning of value") from None
    walker = _Walker()
    walker.walk(value, schema, None, [])
    if walker.saved:
        raise JSONError(walker.saved)
    return value if isinstance(value, dict) else {}


class _Constant(Exception):
    def __init__(self, name: str) -> None:
        self.name = name


def _reject_constant(name: str) -> Any:
    raise _Constant(name)


def _syntax_message(text: str, err: json.JSONDecodeError) -> str:
    if err.pos >= len(text.rstrip()):
        return "unexpected EOF"
    ch = text[err.pos]
    shown = "'\\''" if ch == "'" else f"'{ch}'"
    return f"invalid character {shown} looking for beginning of value"


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


class _Abort(Exception):
    pass


class _Walker:
    def __init__(self) -> None:
        self.saved: str | None = None

    def walk(self, value: Any, t: T, struct_name: str | None, stack: list[str]) -> None:
        try:
            self._walk(value, t, struct_name, stack)
        except _Abort as err:
            self.saved = str(err)  # an UnmarshalJSON error stops decoding at once
            raise JSONError(self.saved) from None

    def _type_error(self, value_desc: str, t: T, struct_name: str | None, stack: list[str]) -> None:
        if self.saved is not None:
            return  # encoding/json reports the first type error only
        if struct_name is None:
            self.saved = f"json: cannot unmarshal {value_desc} into Go value of type {t.go}"
        else:
            path = ".".join(stack)
            self.saved = (
                f"json: cannot unmarshal {value_desc} into Go struct field "
                f"{struct_name}.{path} of type {t.go}"
            )

    def _walk(self, value: Any, t: T, struct_name: str | None, stack: list[str]) -> None:
        if value is None or t.kind in ("any", "raw"):
            return
        kind = t.kind
        if kind == "string":
            if not isinstance(value, str):
                self._type_error(json_kind(value), t, struct_name, stack)
        elif kind == "bool":
            if not isinstance(value, bool):
                self._type_error(json_kind(value), t, struct_name, stack)
        elif kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                self._type_error(json_kind(value), t, struct_name, stack)
            elif kind == "int" and isinstance(value, GoFloat):
                self._type_error(f"number {value.literal}", t, struct_name, stack)
        elif kind == "imagedata":
            if not isinstance(value, str):
                self._type_error(json_kind(value), t, struct_name, stack)
            else:
                _, err = b64decode(value)
                if err and self.saved is None:
                    self.saved = err
        elif kind == "duration":
            self._duration(value)
        elif kind == "think":
            self._think(value)
        elif kind == "slice":
            if not isinstance(value, list):
                self._type_error(json_kind(value), t, struct_name, stack)
                return
            for item in value:
                self._walk(item, t.elem, struct_name, stack)
        elif kind == "map":
            if not isinstance(value, dict):
                self._type_error(json_kind(value), t, struct_name, stack)
                return
            for item in value.values():  # Go names the map field, not the key
                self._walk(item, t.elem, struct_name, stack)
        elif kind == "struct":
            self._struct(value, t, struct_name, stack)

    def _struct(self, value: Any, t: T, struct_name: str | None, stack: list[str]) -> None:
        if not isinstance(value, dict):
            self._type_error(json_kind(value), t, struct_name, stack)
            return
        if t.alias:
            # Message.UnmarshalJSON decodes into `type Alias Message` afresh:
            # errors name `Alias` with a path from the message, and abort.
            inner = _Walker()
            inner._struct_fields(value, t, "Alias", [])
            if inner.saved:
                raise _Abort(inner.saved)
            return
        own = t.go.split(".")[-1]
        self._struct_fields(value, t, own, stack)

    def _struct_fields(self, value: dict, t: T, own: str, stack: list[str]) -> None:
        folded = {name.lower(): name for name in t.fields}
        for key, item in value.items():
            name = key if key in t.fields else folded.get(key.lower())
            if name is None:
                continue  # unknown fields are ignored
            self._walk(item, t.fields[name], own, stack + [name])

    def _duration(self, value: Any) -> None:
        if isinstance(value, bool):
            raise _Abort("Unsupported type: 'bool'")
        if isinstance(value, (int, float)):
            return
        if isinstance(value, str):
            try:
                parse_duration(value)
            except ValueError as err:
                raise _Abort(str(err)) from None
            return
        go = "[]interface {}" if isinstance(value, list) else "map[string]interface {}"
        raise _Abort(f"Unsupported type: '{go}'")

    def _think(self, value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, str):
            if value not in ("high", "medium", "low", "max"):
                raise _Abort(
                    f'invalid think value: "{value}" (must be "high", "medium", "low", "max", true, or false)'
                )
            return
        raise _Abort('think must be a boolean or string ("high", "medium", "low", "max", true, or false)')
