"""Just enough GGUF for the stand-in: read a header's key/values (typed, as
Ollama's fs/ggml does) and write small header-only files for tests.

Types matter: Ollama's `kv.Uint("vision.block_count")` only matches a value
stored as UINT32 and `kv.Bool(...)` only a BOOL, so the reader keeps each
value's GGUF type and the classification below compares types too.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

MAGIC = b"GGUF"
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR = {
    UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
    FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d",
}

PROJECTOR = "application/vnd.ollama.image.projector"
MODEL = "application/vnd.ollama.image.model"
ADAPTER = "application/vnd.ollama.image.adapter"


class GGUFError(Exception):
    pass


@dataclass(frozen=True)
class Typed:
    """A value with an explicit GGUF type, for the writer."""

    type: int
    value: Any


def u32(v: int) -> Typed:
    return Typed(UINT32, v)


def i32(v: int) -> Typed:
    return Typed(INT32, v)


def u64(v: int) -> Typed:
    return Typed(UINT64, v)


def f32(v: float) -> Typed:
    return Typed(FLOAT32, v)


class KV(dict):
    """key -> (gguf type, value), with Ollama's typed accessors."""

    @property
    def architecture(self) -> str:
        return self.string("general.architecture", "unknown")

    @property
    def kind(self) -> str:
        return self.string("general.type", "unknown")

    def _key(self, key: str) -> str:
        if key.startswith(("general.", "tokenizer.")):
            return key
        return f"{self.architecture}.{key}"

    def string(self, key: str, default: str = "") -> str:
        t, v = self.get(self._key(key), (None, None))
        return v if t == STRING else default

    def uint(self, key: str) -> int:
        t, v = self.get(self._key(key), (None, None))
        return v if t == UINT32 else 0

    def bool(self, key: str) -> bool:
        t, v = self.get(self._key(key), (None, None))
        return bool(v) if t == BOOL else False

    def plain(self) -> dict[str, Any]:
        return {k: v for k, (_, v) in self.items()}


def read_kv(stream: BinaryIO) -> KV:
    """Parse the header: key/values and tensor infos (no tensor data)."""
    if stream.read(4) != MAGIC:
        raise GGUFError("invalid file magic")
    (version,) = _unpack(stream, "<I")
    if version not in (2, 3):
        raise GGUFError(f"unsupported gguf version {version}")
    tensors, count = _unpack(stream, "<QQ")
    kv = KV()
    for _ in range(count):
        key = _string(stream)
        (vtype,) = _unpack(stream, "<I")
        kv[key] = (vtype, _value(stream, vtype))
    for _ in range(tensors):
        _string(stream)
        (dims,) = _unpack(stream, "<I")
        _unpack(stream, "<" + "Q" * dims)
        _unpack(stream, "<IQ")
    return kv


def is_gguf(head: bytes) -> bool:
    return head[:4] in (MAGIC, b"FUGG")


def media_type(kv: KV) -> str:
    """server/create.go: adapter, projector (isProjectorGGUF) or model."""
    if kv.kind == "adapter":
        return ADAPTER
    if kv.kind in ("projector", "mmproj"):
        return PROJECTOR
    if kv.uint("block_count") == 0 and kv.uint("vision.block_count") > 0:
        return PROJECTOR
    if kv.architecture == "clip" and kv.uint("block_count") == 0 and (
        kv.bool("has_vision_encoder") or kv.bool("has_audio_encoder")
    ):
        return PROJECTOR
    return MODEL


def gguf_bytes(kv: dict[str, Any]) -> bytes:
    """A header-only GGUF v3 file (no tensors) holding `kv`.

    Python values map to STRING, BOOL, INT32 (int), FLOAT32 (float) or an
    ARRAY of those; wrap in `u32()` & co. for an explicit type.
    """
    out = io.BytesIO()
    out.write(MAGIC + struct.pack("<IQQ", 3, 0, len(kv)))
    for key, value in kv.items():
        _put_string(out, key)
        vtype, raw = _typed(value)
        out.write(struct.pack("<I", vtype))
        _put_value(out, vtype, raw)
    return out.getvalue()


def _typed(value: Any) -> tuple[int, Any]:
    if isinstance(value, Typed):
        return value.type, value.value
    if isinstance(value, bool):
        return BOOL, value
    if isinstance(value, int):
        return INT32, value
    if isinstance(value, float):
        return FLOAT32, value
    if isinstance(value, str):
        return STRING, value
    if isinstance(value, (list, tuple)):
        items = [_typed(v) for v in value]
        elem = items[0][0] if items else STRING
        return ARRAY, (elem, [v for _, v in items])
    raise TypeError(f"no GGUF type for {value!r}")


def _put_string(out: io.BytesIO, text: str) -> None:
    data = text.encode("utf-8")
    out.write(struct.pack("<Q", len(data)) + data)


def _put_value(out: io.BytesIO, vtype: int, value: Any) -> None:
    if vtype == STRING:
        _put_string(out, value)
    elif vtype == ARRAY:
        elem, items = value
        out.write(struct.pack("<IQ", elem, len(items)))
        for item in items:
            _put_value(out, elem, item)
    else:
        out.write(struct.pack(_SCALAR[vtype], value))


def _unpack(stream: BinaryIO, fmt: str) -> tuple:
    size = struct.calcsize(fmt)
    data = stream.read(size)
    if len(data) != size:
        raise GGUFError("unexpected EOF")
    return struct.unpack(fmt, data)


def _string(stream: BinaryIO) -> str:
    (length,) = _unpack(stream, "<Q")
    if length > 1 << 30:
        raise GGUFError("string too long")
    data = stream.read(length)
    if len(data) != length:
        raise GGUFError("unexpected EOF")
    return data.decode("utf-8", "replace")


def _value(stream: BinaryIO, vtype: int) -> Any:
    if vtype in _SCALAR:
        return _unpack(stream, _SCALAR[vtype])[0]
    if vtype == STRING:
        return _string(stream)
    if vtype == ARRAY:
        elem, count = _unpack(stream, "<IQ")
        if count > 1 << 24:
            raise GGUFError("array too long")
        return [_value(stream, elem) for _ in range(count)]
    raise GGUFError(f"invalid type {vtype}")
