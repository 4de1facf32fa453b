"""The bounded GGUF reader: agrees with gguf.GGUFReader, fails cleanly on bad input."""

from __future__ import annotations

import struct
import tempfile
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcv.errors import InputError
from mcv.modelfile.gguf_meta import LazyArray, ValueType, read_metadata
from mcv.selftest.tinypair import GENERATION_IDS

gguf = pytest.importorskip("gguf")


def _all_files(tiny_pair_factory):
    for gen_id in GENERATION_IDS:
        yield from tiny_pair_factory(gen_id)


def _same(a, b) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) <= 1e-6 * max(1.0, abs(a))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_agrees_with_gguf_reader_on_every_tiny_file(tiny_pair_factory):
    for path in _all_files(tiny_pair_factory):
        ours = read_metadata(path, lazy_arrays_over=None)
        ref = gguf.GGUFReader(path)
        fields = {f.name: f for f in ref.fields.values() if not f.name.startswith("GGUF.")}
        assert list(ours.kv) == list(fields), path
        for key, field in fields.items():
            assert ours.kv_types[key][0] == ValueType(int(field.types[0])), key
            if field.types[0] == gguf.GGUFValueType.ARRAY:
                assert ours.kv_types[key][1] == ValueType(int(field.types[-1])), key
            assert _same(ours.kv[key], field.contents()), key
        assert ours.version == 3 and ours.tensor_count == len(ref.tensors)
        assert [(t.name, t.shape, t.type) for t in ours.tensors] == [
            (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type)) for t in ref.tensors
        ]
        assert [ours.data_offset + t.offset for t in ours.tensors] == [int(t.data_offset) for t in ref.tensors]
        assert ours.data_end <= ours.file_size == path.stat().st_size


def test_lazy_arrays_load_on_demand(tiny_pair_25):
    llm, _ = tiny_pair_25
    eager = read_metadata(llm, lazy_arrays_over=None)
    lazy = read_metadata(llm, lazy_arrays_over=100, tensors=False)
    tokens = lazy.kv["tokenizer.ggml.tokens"]
    assert isinstance(tokens, LazyArray) and len(tokens) == len(eager.kv["tokenizer.ggml.tokens"])
    assert isinstance(lazy.kv["tokenizer.ggml.token_type"], LazyArray)
    assert lazy.array("tokenizer.ggml.tokens") == eager.kv["tokenizer.ggml.tokens"]
    assert lazy.array("tokenizer.ggml.token_type") == eager.kv["tokenizer.ggml.token_type"]
    assert lazy.array("tokenizer.ggml.merges") == ["Ġ a", "Ġ t"]  # small: read eagerly
    assert lazy.tensors is None and lazy.data_end is None
    # what comes after the skipped arrays is still read correctly
    assert lazy.kv["tokenizer.chat_template"] == eager.kv["tokenizer.chat_template"]


def test_helpers(tiny_pair_25):
    llm, mmproj = tiny_pair_25
    meta = read_metadata(mmproj)
    assert meta.architecture == "clip"
    assert meta.type_name("clip.minicpmv_version") == "int32"
    assert meta.type_name("clip.vision.image_mean") == "array[float32]"
    assert meta.type_name("nope") is None
    proj = meta.tensor("resampler.proj.weight")
    assert proj.shape == (128, 128) and proj.type_name == "F16" and proj.nbytes == 128 * 128 * 2
    assert meta.tensor("missing") is None
    assert read_metadata(llm).get("general.architecture") == "llama"


# --- clean errors -------------------------------------------------------------


def _header(n_tensors=0, n_kv=0, version=3) -> bytes:
    return b"GGUF" + struct.pack("<IQQ", version, n_tensors, n_kv)


def _kv_string(key: str, value: bytes, length: int | None = None) -> bytes:
    k = key.encode()
    return struct.pack("<Q", len(k)) + k + struct.pack("<IQ", 8, len(value) if length is None else length) + value


def _err(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "x.gguf"
    path.write_bytes(data)
    with pytest.raises(InputError) as exc:
        read_metadata(path)
    message = str(exc.value)
    assert "\n" not in message and message.startswith(str(path))
    return message


def test_bad_magic(tmp_path):
    assert _err(tmp_path, b"GGML" + bytes(40)).endswith("not a GGUF file (bad magic)")
    assert _err(tmp_path, b"GG").endswith("not a GGUF file (bad magic)")
    assert _err(tmp_path, b"").endswith("not a GGUF file (bad magic)")


def test_truncated_header(tmp_path, tiny_pair_25):
    data = tiny_pair_25[0].read_bytes()
    meta = read_metadata(tiny_pair_25[0])
    assert _err(tmp_path, data[:10]).endswith("truncated GGUF header")
    assert _err(tmp_path, data[: meta.data_offset - 40]).endswith("truncated GGUF header")
    assert _err(tmp_path, _header(n_kv=1)).endswith("truncated GGUF header")


def test_versions(tmp_path):
    assert "version 1 is too old" in _err(tmp_path, _header(version=1))
    assert _err(tmp_path, _header(version=7)).endswith("unsupported GGUF version 7")
    assert "big-endian" in _err(tmp_path, b"GGUF" + struct.pack(">I", 3) + bytes(16))


def test_lying_lengths(tmp_path):
    assert "over the limit" in _err(tmp_path, _header(n_kv=1 << 40))
    assert "over the limit" in _err(tmp_path, _header(n_tensors=1 << 40))
    # a count under the cap but more than the file could hold
    assert _err(tmp_path, _header(n_kv=60000)).endswith("truncated GGUF header")
    # a string value whose length runs past the end of the file
    assert _err(tmp_path, _header(n_kv=1) + _kv_string("a", b"xy", length=1 << 20)).endswith("truncated GGUF header")
    assert "over the limit" in _err(tmp_path, _header(n_kv=1) + _kv_string("a", b"xy", length=1 << 60))
    # an array count larger than the bytes left
    arr = struct.pack("<Q", 1) + b"a" + struct.pack("<IIQ", 9, 4, 10**6) + bytes(8)
    assert _err(tmp_path, _header(n_kv=1) + arr).endswith("truncated GGUF header")


def test_corrupt_structure(tmp_path):
    dup = _kv_string("k", b"v") * 2
    assert "duplicate key 'k'" in _err(tmp_path, _header(n_kv=2) + dup)
    bad_type = struct.pack("<Q", 1) + b"k" + struct.pack("<I", 77) + bytes(8)
    assert "unknown value type 77" in _err(tmp_path, _header(n_kv=1) + bad_type)
    nested = struct.pack("<Q", 1) + b"k" + struct.pack("<II", 9, 9) + bytes(8)
    assert "nested array" in _err(tmp_path, _header(n_kv=1) + nested)
    tensor = struct.pack("<Q", 1) + b"t" + struct.pack("<I", 9) + bytes(40)
    assert "9 dimensions" in _err(tmp_path, _header(n_tensors=1) + tensor)
    align = struct.pack("<Q", 17) + b"general.alignment" + struct.pack("<II", 4, 3)
    assert "alignment" in _err(tmp_path, _header(n_kv=1) + align)


def test_unreadable_paths(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        read_metadata(tmp_path / "missing.gguf")
    with pytest.raises(InputError, match="cannot read"):
        read_metadata(tmp_path)


# --- fuzz: mutated real headers --------------------------------------------------

_FUZZ_SOURCES: dict[str, tuple[bytes, list[int]]] = {}


def _source(tiny_pair_factory, which: int) -> tuple[bytes, list[int]]:
    """Header bytes of a tiny file plus the offsets of its length/count fields."""
    path = tiny_pair_factory("2.6")[which]
    key = str(path)
    if key not in _FUZZ_SOURCES:
        meta = read_metadata(path)
        data = path.read_bytes()[: meta.data_offset + 64]
        ref = gguf.GGUFReader(path)
        offsets = [8, 16]  # tensor count, kv count
        for field in ref.fields.values():
            if field.name.startswith("GGUF."):
                continue
            offsets.append(field.offset)  # key length
            after_key = field.offset + 8 + len(field.name.encode())
            if field.types[0] in (gguf.GGUFValueType.STRING, gguf.GGUFValueType.ARRAY):
                offsets.append(after_key + 4 + (4 if field.types[0] == gguf.GGUFValueType.ARRAY else 0))
        offsets += [t.field.offset for t in ref.tensors]  # tensor name lengths
        _FUZZ_SOURCES[key] = (data, offsets)
    return _FUZZ_SOURCES[key]


def _check_bounded(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".gguf") as f:
        f.write(data)
        f.flush()
        tracemalloc.start()
        try:
            read_metadata(f.name)
        except InputError as err:
            assert "\n" not in str(err)
        finally:
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
    assert peak < 8_000_000, peak


_FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@_FUZZ
@given(which=st.sampled_from([0, 1]), flips=st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 7)), min_size=1, max_size=8))
def test_fuzz_bit_flips(tiny_pair_factory, which, flips):
    data, _ = _source(tiny_pair_factory, which)
    mutated = bytearray(data)
    for pos, bit in flips:
        mutated[pos % len(mutated)] ^= 1 << bit
    _check_bounded(bytes(mutated))


@_FUZZ
@given(which=st.sampled_from([0, 1]), cut=st.integers(0, 10**7))
def test_fuzz_truncation(tiny_pair_factory, which, cut):
    data, _ = _source(tiny_pair_factory, which)
    _check_bounded(data[: cut % (len(data) + 1)])


@_FUZZ
@given(
    which=st.sampled_from([0, 1]),
    index=st.integers(0, 10**6),
    value=st.one_of(
        st.integers(0, 2**64 - 1),
        st.sampled_from([2**63, 2**64 - 1, 2**32, 2**31 - 1, 1 << 26, (1 << 26) + 1, 10**6]),
    ),
)
def test_fuzz_lying_lengths(tiny_pair_factory, which, index, value):
    data, offsets = _source(tiny_pair_factory, which)
    pos = offsets[index % len(offsets)]
    mutated = data[:pos] + struct.pack("<Q", value) + data[pos + 8 :]
    _check_bounded(mutated)


def test_big_vocabulary_header_is_read_lazily_and_bounded(tmp_path):
    """A Qwen-sized vocabulary (152k tokens + merges): lazy by default, exact on demand."""
    path = tmp_path / "vocab.gguf"
    tokens = [f"tok{i}" for i in range(152_000)]
    w = gguf.GGUFWriter(str(path), "qwen2")
    w.add_array("tokenizer.ggml.tokens", tokens)
    w.add_array("tokenizer.ggml.token_type", [1] * len(tokens))
    w.add_array("tokenizer.ggml.merges", [f"t ok{i}" for i in range(150_000)])
    w.add_string("tokenizer.chat_template", "{{ x }}")
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    tracemalloc.start()
    meta = read_metadata(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4_000_000, peak  # the 150k strings were stepped over, not decoded
    assert isinstance(meta.kv["tokenizer.ggml.merges"], LazyArray)
    assert meta.kv["tokenizer.chat_template"] == "{{ x }}"
    loaded = meta.array("tokenizer.ggml.tokens")
    assert loaded[0] == "tok0" and loaded[-1] == "tok151999" and len(loaded) == 152_000
    assert meta.array("tokenizer.ggml.merges")[-1] == "t ok149999"
