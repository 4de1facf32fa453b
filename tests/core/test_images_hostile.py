"""Hostile and damaged inputs: one-line InputErrors, bombs refused before allocation, big photos still work."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image
from support.images import hostile_files, jpeg_bytes, make_photo, png_deflate_bomb

from mcv.errors import InputError
from mcv.core.images.grid import slice_grid
from mcv.core.images.prepare import prepare
from mcv.core.images.types import MINICPMV_MAX_PIXELS, ImageSource, PrepareSettings

EXPECTED = {
    "zero_bytes": "zero_bytes: empty (0 bytes)",
    "truncated_jpeg": "truncated_jpeg: damaged or truncated JPEG image (image file is truncated",
    "truncated_png": "truncated_png: damaged or truncated PNG image (",
    "text_as_jpg": "text_as_jpg: text, not an image",
    "html_as_png": "html_as_png: an HTML page, not an image",
    "svg_as_png": "svg_as_png: an SVG drawing; vector images are not supported",
    "random_bytes": "random_bytes: not a supported image (supported: JPEG, PNG",
    "gif_header_only": "gif_header_only: damaged or truncated GIF image (",
    "webp_garbage": "webp_garbage: damaged or truncated WebP image (",
    "jpeg_magic_only": "jpeg_magic_only: damaged or truncated JPEG image (",
    "broken_pdf": "broken_pdf: not a readable PDF (",
    "png_header_bomb": "png_header_bomb: 100000x100000 is 10000 MP, over the 250 MP decoding limit",
    "png_deflate_bomb": "png_deflate_bomb: 20000x20000 is 400 MP, over the 250 MP decoding limit",
    "mp4_video": "mp4_video: a video or unsupported ISO media file, not an image",
}


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_hostile_file_gives_one_line_input_error(hostile, name):
    with pytest.raises(InputError) as caught:
        prepare(ImageSource("path", str(hostile[name]), name))
    message = str(caught.value)
    assert message.startswith(EXPECTED[name]), message
    assert "\n" not in message
    assert caught.value.exit_code == 2


def test_jpeg_claiming_a_huge_size(hostile):
    """65000x65000 in the header, 16x16 of data: refused by the limit, or decoded (libjpeg pads) within budget."""
    source = ImageSource("path", str(hostile["jpeg_header_bomb"]), "bomb.jpg")
    with pytest.raises(InputError) as caught:
        prepare(source, PrepareSettings(max_decoded_pixels=20_000_000))
    assert str(caught.value).startswith(
        "bomb.jpg: 8125x8125 (reduced from 65000x65000) is 66 MP, over the 20 MP decoding limit"
    )
    [image] = prepare(source)  # 66 MP after 1/8 draft scaling is within the default 250 MP
    assert image.width * image.height <= MINICPMV_MAX_PIXELS


def test_decoded_pixel_limit_applies_to_every_format():
    data = io.BytesIO()
    Image.new("RGB", (100, 100), "white").save(data, format="PNG")
    with pytest.raises(InputError, match=r"^small\.png: 100x100 is 0 MP, over the 0 MP decoding limit$"):
        prepare(ImageSource("bytes", data.getvalue(), "small.png"), PrepareSettings(max_decoded_pixels=9_999))


def _measure_in_child(code: str) -> dict:
    """Run `code` (which sets `result`) in a fresh interpreter and add its peak memory in MB.

    The peak is VmHWM from /proc: unlike ru_maxrss it is not inherited from
    the (large) pytest process across fork+exec.
    """
    wrapper = (
        "import json\n"
        f"{code}\n"
        "status = open('/proc/self/status').read().split('VmHWM:')[1].split()[0]\n"
        "result['max_rss_mb'] = int(status) / 1024\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(sys.platform != "linux", reason="reads peak memory from /proc")
def test_deflate_bomb_is_refused_without_allocating(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(png_deflate_bomb(20_000, 20_000))  # 400 MP: 400 MB as 1-bit pixels, 1.2 GB as RGB
    result = _measure_in_child(
        "from mcv.core.images.prepare import prepare\n"
        "from mcv.core.images.types import ImageSource\n"
        "from mcv.errors import InputError\n"
        f"try:\n    prepare(ImageSource('path', {str(path)!r}, 'bomb.png')); result = {{'error': None}}\n"
        "except InputError as err:\n    result = {'error': str(err)}\n"
    )
    assert result["error"].startswith("bomb.png: 20000x20000 is 400 MP")
    assert result["max_rss_mb"] < 200


@pytest.fixture(scope="module")
def phone_200mp_jpeg(tmp_path_factory):
    """A 16384x12288 (201 MP) JPEG, over Pillow's own 179 MP bomb limit; built once."""
    path = tmp_path_factory.mktemp("big") / "phone200.jpg"
    tile = make_photo(1024, 768, seed=11)
    big = tile.resize((16384, 12288), Image.Resampling.NEAREST)
    big.save(path, format="JPEG", quality=70)
    del big
    return path


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads peak memory from /proc")
def test_200mp_phone_jpeg_works_within_memory(phone_200mp_jpeg):
    result = _measure_in_child(
        "from mcv.core.images.prepare import prepare\n"
        "from mcv.core.images.types import ImageSource\n"
        f"[image] = prepare(ImageSource('path', {str(phone_200mp_jpeg)!r}, 'phone.jpg'))\n"
        "result = {'size': [image.width, image.height], 'source': [image.source_width, image.source_height]}\n"
    )
    assert result["source"] == [16384, 12288]
    width, height = result["size"]
    assert width * height <= MINICPMV_MAX_PIXELS
    assert slice_grid(width, height) == slice_grid(16384, 12288)
    # A full decode needs 604 MB for the pixels alone; the 1/8 draft decode ~10 MB.
    assert result["max_rss_mb"] < 300


@pytest.mark.parametrize(
    ("budget", "decoded_size"),
    [(40_000, (250, 200)), (200_000, (500, 400)), (700_000, (1000, 800)), (2_000_000, (2000, 1600))],
)
def test_jpeg_draft_picks_the_smallest_scale_above_the_target(budget, decoded_size):
    """libjpeg decodes at 1/8, 1/4 or 1/2 scale, never below what the budget needs."""
    from mcv.core.images.decode import decode

    data = jpeg_bytes(make_photo(2000, 1600, seed=3))
    settings = PrepareSettings(max_pixels=budget)
    assert decode(data, "JPEG", "p.jpg", settings).image.size == decoded_size
    [image] = prepare(ImageSource("bytes", data, "p.jpg"), settings)
    assert 0.98 * budget <= image.width * image.height <= budget
