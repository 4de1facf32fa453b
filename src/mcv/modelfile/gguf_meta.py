"""Bounded GGUF metadata reader: the header only, never the tensor data.

API (stable):
    read_metadata(path, *, tensors=True, lazy_arrays_over=4096) -> GGUFMeta
    GGUFMeta      .path .version .file_size .tensor_count .kv_count
                  .kv {key: python value | LazyArray}   .kv_types {key: (type, subtype|None)}
                  .tensors (tuple[TensorInfo] | None)   .data_offset   .alignment
                  .get(key, default)  .array(key) (loads a lazy array)  .type_name(key)
                  .architecture  .tensor(name)  .data_end (bytes the tensor data needs, or None)
    TensorInfo    .name .shape (ggml order: ne[0] first) .type .type_name .offset .nbytes
    LazyArray     an array left on disk (subtype, count, offset); GGUFMeta.array() reads it
    ValueType     GGUF value type codes (IntEnum)

Why not gguf.GGUFReader: it memory-maps the whole file and builds numpy views
over every field and tensor. Here the header is parsed from a small rolling
buffer (file.read in chunks); every count and length is checked against a cap
AND against the bytes left in the file before anything is allocated, so a
lying length is a clean InputError, never a huge allocation or a hang.
Big arrays (tokens, merges: 150k entries) can be left on disk: a numeric
array is skipped in O(1), a string array is walked without decoding.

Every failure is an InputError whose one-line message starts with the path.
"""

from __future__ import annotations

import struct
import sys
from array import array
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

from mcv.errors import InputError

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32

# Caps far above any real file (real: ~10^3 tensors, ~50 KVs, 250k-token vocabs).
MAX_KV = 1 << 16
MAX_TENSORS = 1 << 20
MAX_KEY_LEN = 1 << 16
MAX_STRING_LEN = 1 << 26  # 64 MiB for one string value
MAX_ARRAY_LEN = 1 << 26
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_DIM = 1 << 48
CHUNK = 1 << 20
_U64 = struct.Struct("<Q")


class ValueType(IntEnum):
    UINT8 = 0
    INT8 = 1
    UINT16 = 2
    INT16 = 3
    UINT32 = 4
    INT32 = 5
    FLOAT32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    UINT64 = 10
    INT64 = 11
    FLOAT64 = 12


# struct format / array typecode and size of each fixed-size scalar type
_SCALAR = {
    ValueType.UINT8: ("B", 1),
    ValueType.INT8: ("b", 1),
    ValueType.UINT16: ("H", 2),
    ValueType.INT16: ("h", 2),
    ValueType.UINT32: ("I", 4),
    ValueType.INT32: ("i", 4),
    ValueType.FLOAT32: ("f", 4),
    ValueType.BOOL: ("B", 1),
    ValueType.UINT64: ("Q", 8),
    ValueType.INT64: ("q", 8),
    ValueType.FLOAT64: ("d", 8),
}
_ARRAY_CODE = {"B": "B", "b": "b", "H": "H", "h": "h", "I": "I", "i": "i", "f": "f", "Q": "Q", "q": "q", "d": "d"}

# ggml tensor types: name, block size, bytes per block (ggml.h / gguf.GGML_QUANT_SIZES)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22), 7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84), 11: ("Q3_K", 256, 110), 12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210), 15: ("Q8_K", 256, 292), 16: ("IQ2_XXS", 256, 66), 17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98), 19: ("IQ1_S", 256, 50), 20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82), 23: ("IQ4_XS", 256, 136), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
    26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8), 29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2), 34: ("TQ1_0", 256, 54), 35: ("TQ2_0", 256, 66), 39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36), 41: ("Q1_0", 128, 18),
}
MAX_GGML_TYPE = 1 << 10


@dataclass(frozen=True)
class LazyArray:
    """An array value left on disk; GGUFMeta.array(key) reads it."""

    subtype: ValueType
    count: int
    offset: int  # file offset of the first element

    def __len__(self) -> int:
        return self.count


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is ne[0] (numpy shape reversed)
    type: int
    offset: int  # relative to GGUFMeta.data_offset

    @property
    def type_name(self) -> str:
        return GGML_TYPES.get(self.type, (f"type{self.type}", 0, 0))[0]

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int | None:
        if self.type not in GGML_TYPES:
            return None
        _, block, size = GGML_TYPES[self.type]
        return self.n_elements // block * size


@dataclass
class GGUFMeta:
    path: Path
    version: int
    file_size: int
    tensor_count: int
    kv_count: int
    kv: dict[str, Any]
    kv_types: dict[str, tuple[ValueType, ValueType | None]]
    tensors: tuple[TensorInfo, ...] | None
    data_offset: int | None  # start of tensor data (None when tensors were not read)
    alignment: int = DEFAULT_ALIGNMENT
    _loaded: dict[str, list] = field(default_factory=dict, repr=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.kv.get(key, default)

    @property
    def architecture(self) -> str | None:
        arch = self.kv.get("general.architecture")
        return arch if isinstance(arch, str) else None

    def type_name(self, key: str) -> str | None:
        if key not in self.kv_types:
            return None
        kind, sub = self.kv_types[key]
        return f"array[{sub.name.lower()}]" if kind == ValueType.ARRAY and sub is not None else kind.name.lower()

    def array(self, key: str) -> list | None:
        """The array value of `key` as a list (reads a lazy array from disk once)."""
        value = self.kv.get(key)
        if isinstance(value, LazyArray):
            if key not in self._loaded:
                with _open(self.path) as f:
                    cur = _Cursor(f, self.path, self.file_size, value.offset)
                    self._loaded[key] = cur.array_items(value.subtype, value.count)
            return self._loaded[key]
        return value if isinstance(value, list) else None

    def tensor(self, name: str) -> TensorInfo | None:
        for t in self.tensors or ():
            if t.name == name:
                return t
        return None

    @property
    def data_end(self) -> int | None:
        """File size the tensor data needs (None if unknown types / not read)."""
        if self.tensors is None or self.data_offset is None:
            return None
        end = self.data_offset
        for t in self.tensors:
            if t.nbytes is None:
                return None
            end = max(end, self.data_offset + t.offset + t.nbytes)
        return end


def read_metadata(path: str | Path, *, tensors: bool = True, lazy_arrays_over: int | None = 4096) -> GGUFMeta:
    """Parse the header of the GGUF at `path`.

    Arrays with more than `lazy_arrays_over` elements are left on disk as
    LazyArray (None: read everything). `tensors=False` stops after the KVs.
    """
    path = Path(path)
    with _open(path) as f:
        try:
            size = f.seek(0, 2)
        except OSError as err:
            raise InputError(f"{path}: cannot read ({err.strerror or err})") from None
        cur = _Cursor(f, path, size, 0)
        magic = cur.peek_magic()
        if magic != MAGIC:
            raise InputError(f"{path}: not a GGUF file (bad magic)")
        cur.pos = 4
        version = cur.scalar(ValueType.UINT32)
        if version not in SUPPORTED_VERSIONS:
            if version == 1:
                raise InputError(f"{path}: GGUF version 1 is too old (re-convert the model)")
            if int.from_bytes(version.to_bytes(4, "little"), "big") in SUPPORTED_VERSIONS:
                raise InputError(f"{path}: big-endian GGUF is not supported")
            raise InputError(f"{path}: unsupported GGUF version {version}")
        n_tensors = cur.count(ValueType.UINT64, MAX_TENSORS, "tensor count", min_item=24)
        n_kv = cur.count(ValueType.UINT64, MAX_KV, "key/value count", min_item=13)
        kv: dict[str, Any] = {}
        kv_types: dict[str, tuple[ValueType, ValueType | None]] = {}
        for _ in range(n_kv):
            key = cur.string(MAX_KEY_LEN, "key")
            if key in kv:
                raise cur.corrupt(f"duplicate key {key!r}")
            kind = cur.value_type()
            if kind == ValueType.ARRAY:
                sub = cur.value_type()
                if sub == ValueType.ARRAY:
                    raise cur.corrupt(f"nested array in {key!r}")
                n = cur.count(ValueType.UINT64, MAX_ARRAY_LEN, f"array length of {key!r}", min_item=_min_size(sub))
                if lazy_arrays_over is not None and n > lazy_arrays_over:
                    kv[key] = LazyArray(sub, n, cur.pos)
                    cur.skip_items(sub, n)
                else:
                    kv[key] = cur.array_items(sub, n)
                kv_types[key] = (kind, sub)
            else:
                kv[key] = cur.value(kind)
                kv_types[key] = (kind, None)
        meta = GGUFMeta(path, version, size, n_tensors, n_kv, kv, kv_types, None, None)
        alignment = kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
            raise cur.corrupt(f"bad general.alignment {alignment!r}")
        meta.alignment = alignment
        if tensors:
            infos = []
            for _ in range(n_tensors):
                name = cur.string(MAX_KEY_LEN, "tensor name")
                n_dims = cur.scalar(ValueType.UINT32)
                if not 1 <= n_dims <= MAX_DIMS:
                    raise cur.corrupt(f"tensor {name!r} has {n_dims} dimensions")
                shape = tuple(cur.scalar(ValueType.UINT64) for _ in range(n_dims))
                if any(d > MAX_DIM for d in shape):
                    raise cur.corrupt(f"tensor {name!r} has an impossible shape")
                ggml_type = cur.scalar(ValueType.UINT32)
                if ggml_type >= MAX_GGML_TYPE:
                    raise cur.corrupt(f"tensor {name!r} has unknown type {ggml_type}")
                offset = cur.scalar(ValueType.UINT64)
                infos.append(TensorInfo(name, shape, ggml_type, offset))
            meta.tensors = tuple(infos)
            meta.data_offset = -(-cur.pos // alignment) * alignment
        return meta


# --- internals -------------------------------------------------------------


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb", buffering=0)  # noqa: SIM115 - closed by the caller's with
    except OSError as err:
        raise InputError(f"{path}: cannot read ({err.strerror or err})") from None


def _min_size(kind: ValueType) -> int:
    if kind == ValueType.STRING:
        return 8
    return _SCALAR[kind][1] if kind in _SCALAR else 1


class _Cursor:
    """Reads little-endian values at `pos` through a rolling buffer of the file."""

    def __init__(self, f: BinaryIO, path: Path, size: int, pos: int) -> None:
        self.f, self.path, self.size, self.pos = f, path, size, pos
        self.buf = b""
        self.buf_start = 0

    # errors
    def truncated(self) -> InputError:
        return InputError(f"{self.path}: truncated GGUF header")

    def corrupt(self, detail: str) -> InputError:
        return InputError(f"{self.path}: corrupt GGUF header ({detail})")

    # raw access
    def need(self, n: int) -> memoryview:
        """Make bytes [pos, pos+n) available; returns a view starting at pos."""
        if self.pos + n > self.size:
            raise self.truncated()
        end = self.buf_start + len(self.buf)
        if not (self.buf_start <= self.pos and self.pos + n <= end):
            try:
                self.f.seek(self.pos)
                self.buf = self.f.read(max(n, CHUNK))
            except OSError as err:
                raise InputError(f"{self.path}: cannot read ({err.strerror or err})") from None
            self.buf_start = self.pos
            if len(self.buf) < n:
                raise self.truncated()
        i = self.pos - self.buf_start
        return memoryview(self.buf)[i : i + n]

    def peek_magic(self) -> bytes:
        if self.size < 4:
            raise InputError(f"{self.path}: not a GGUF file (bad magic)")
        return bytes(self.need(4))

    def scalar(self, kind: ValueType) -> Any:
        fmt, n = _SCALAR[kind]
        (value,) = struct.unpack_from("<" + fmt, self.need(n))
        self.pos += n
        return value

    def count(self, kind: ValueType, cap: int, what: str, *, min_item: int) -> int:
        n = self.scalar(kind)
        if n > cap:
            raise self.corrupt(f"{what} {n} is over the limit {cap}")
        if n * min_item > self.size - self.pos:
            raise self.truncated()
        return n

    def value_type(self) -> ValueType:
        raw = self.scalar(ValueType.UINT32)
        try:
            return ValueType(raw)
        except ValueError:
            raise self.corrupt(f"unknown value type {raw}") from None

    def string(self, cap: int = MAX_STRING_LEN, what: str = "string") -> str:
        n = self.scalar(ValueType.UINT64)
        if n > cap:
            raise self.corrupt(f"{what} length {n} is over the limit {cap}")
        data = self.need(n)
        self.pos += n
        return str(data, "utf-8", "replace")

    def value(self, kind: ValueType) -> Any:
        if kind == ValueType.STRING:
            return self.string()
        value = self.scalar(kind)
        return bool(value) if kind == ValueType.BOOL else value

    def array_items(self, sub: ValueType, n: int) -> list:
        if sub == ValueType.STRING:
            return self.walk_strings(n, decode=True)
        if sub not in _SCALAR:
            raise self.corrupt(f"unknown array element type {sub}")
        fmt, size = _SCALAR[sub]
        items: list = []
        left = n
        while left:  # in chunks so a long array never needs one huge buffer
            k = min(left, CHUNK // size)
            data = array(_ARRAY_CODE[fmt])
            data.frombytes(self.need(k * size))
            if sys.byteorder == "big":
                data.byteswap()
            items.extend(data.tolist())
            self.pos += k * size
            left -= k
        return [bool(v) for v in items] if sub == ValueType.BOOL else items

    def skip_items(self, sub: ValueType, n: int) -> None:
        if sub == ValueType.STRING:
            self.walk_strings(n, decode=False)
            return
        if sub not in _SCALAR:
            raise self.corrupt(f"unknown array element type {sub}")
        nbytes = n * _SCALAR[sub][1]
        if self.pos + nbytes > self.size:
            raise self.truncated()
        self.pos += nbytes

    def walk_strings(self, n: int, *, decode: bool) -> list[str]:
        """Read (or just step over) n strings; the hot loop of a 150k-token vocab,
        so it parses straight out of the buffer and refills only when needed."""
        out: list[str] = []
        unpack = _U64.unpack_from
        while n:
            buf, start = self.buf, self.buf_start
            i, end = self.pos - start, len(buf)
            if 0 <= i:
                while n and i + 8 <= end:
                    (length,) = unpack(buf, i)
                    j = i + 8 + length
                    if j > end:
                        break
                    if decode:
                        out.append(buf[i + 8 : j].decode("utf-8", "replace"))
                    i, n = j, n - 1
                self.pos = start + i
            if n:  # the next string is not (wholly) in the buffer: refill at pos
                (length,) = unpack(self.need(8))
                if length > MAX_STRING_LEN:
                    raise self.corrupt(f"string length {length} is over the limit {MAX_STRING_LEN}")
                self.need(8 + length)
        return out
