"""Fuzzing: random bytes and mutated real files of every format.

prepare() must return valid in-budget images or raise InputError, never
anything else. Example counts are moderate so this runs in seconds; set
MCV_FUZZ_EXAMPLES=2000 for a longer local run.
"""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, features
from support.images import encode_bytes, make_photo, make_quadrants, pdf_bytes

from mcv.errors import InputError
from mcv.core.images.prepare import prepare
from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings

EXAMPLES = int(os.environ.get("MCV_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Fixed examples by default (CI never flakes, failures reproduce); random in long local runs.
    derandomize="MCV_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Small limits keep each example cheap even when a mutation claims a huge size.
SMALL = PrepareSettings(max_pixels=60_000, max_decoded_pixels=4_000_000, max_input_bytes=1 << 20)


def _seed_files() -> dict[str, bytes]:
    from pillow_heif import register_heif_opener

    register_heif_opener()
    photo = make_photo(96, 64, seed=7)
    flat = make_quadrants(96, 64)
    frames = [flat, photo]
    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "jpeg": encode_bytes(photo, "JPEG", quality=80, exif=exif.tobytes()),
        "png": encode_bytes(flat.convert("P"), "PNG", transparency=0),
        "png16": encode_bytes(Image.new("I;16", (40, 30), 30000), "PNG"),
        "gif": encode_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:]),
        "webp": encode_bytes(photo, "WEBP", quality=70),
        "webp-lossless": encode_bytes(flat.convert("RGBA"), "WEBP", lossless=True),
        "tiff": encode_bytes(photo, "TIFF", compression="tiff_lzw", exif=exif.tobytes()),
        "bmp": encode_bytes(flat, "BMP"),
        "heif": encode_bytes(photo, "HEIF", quality=60),
        "pdf": pdf_bytes([flat, photo]),
    } | ({"avif": encode_bytes(photo, "AVIF", quality=60)} if features.check("avif") else {})


SEEDS = _seed_files()


def check(data: bytes, **overrides) -> None:
    source = ImageSource("bytes", data, "fuzzed")
    try:
        images = prepare(source, PrepareSettings(**{**SMALL.__dict__, **overrides}))
    except InputError as err:
        message = str(err)
        assert message.startswith("fuzzed") and "\n" not in message
        return
    assert images
    for image in images:
        assert isinstance(image, PreparedImage)
        assert image.width * image.height <= SMALL.max_pixels
        decoded = Image.open(io.BytesIO(image.data))
        decoded.load()
        assert decoded.mode == "RGB" and decoded.size == (image.width, image.height)


def test_seed_files_are_valid():
    for name, data in SEEDS.items():
        check(data)
        assert prepare(ImageSource("bytes", data, name), SMALL), name


@FUZZ
@given(st.binary(min_size=0, max_size=2048))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(prefix=st.sampled_from(sorted({d[:16] for d in SEEDS.values()})), tail=st.binary(max_size=512))
def test_valid_magic_then_garbage(prefix, tail):
    check(prefix + tail)


@st.composite
def mutated(draw, data: bytes) -> bytes:
    """`data` with a few bytes flipped, a piece cut off, or bytes inserted or removed."""
    buffer = bytearray(data)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "delete", "header"]))
        if not buffer:
            break
        position = draw(st.integers(0, len(buffer) - 1))
        if kind == "flip":
            buffer[position] ^= draw(st.integers(1, 255))
        elif kind == "header":  # where sizes and counts live
            position = draw(st.integers(0, min(len(buffer), 256) - 1))
            buffer[position] = draw(st.integers(0, 255))
        elif kind == "truncate":
            del buffer[position:]
        elif kind == "insert":
            buffer[position:position] = draw(st.binary(min_size=1, max_size=16))
        else:
            del buffer[position : position + draw(st.integers(1, 64))]
    return bytes(buffer)


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mutated_files(name):
    @FUZZ
    @given(mutated(SEEDS[name]))
    def run(data):
        check(data, pages="1-2" if name == "pdf" else None)

    run()
