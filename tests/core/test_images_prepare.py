"""prepare(): every format and pixel mode -> an upright, in-budget, metadata-free RGB payload."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms, ImageOps, features
from support.images import (
    QUADRANTS,
    dominant,
    encode_bytes,
    exif_with_gps,
    icc_swapped_rgb,
    jpeg_bytes,
    make_photo,
    make_quadrants,
    make_receipt,
    make_screenshot,
    png_16bit_rgb,
    png_bytes,
    stored_for_orientation,
)

from mcv.errors import UsageError
from mcv.core.images.grid import slice_grid
from mcv.core.images.prepare import prepare
from mcv.core.images.types import MINICPMV_MAX_PIXELS, ImageSource, PreparedImage, PrepareSettings


# Pillow reads and writes AVIF from 11.3 on (wheels built with libavif).
NEEDS_AVIF = pytest.mark.skipif(not features.check("avif"), reason="this Pillow has no AVIF codec (Pillow >= 11.3)")


def run(data: bytes, label: str = "input", **settings) -> PreparedImage:
    [image] = prepare(ImageSource("bytes", data, label), PrepareSettings(**settings))
    return image


def opened(image: PreparedImage) -> Image.Image:
    decoded = Image.open(io.BytesIO(image.data))
    assert decoded.format == {"image/jpeg": "JPEG", "image/png": "PNG"}[image.mime]
    assert decoded.size == (image.width, image.height)
    assert decoded.mode == "RGB"
    return decoded


def close_to(actual, expected, tolerance=24) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected))


# --- formats ---------------------------------------------------------------------------------

PHOTO = make_photo(640, 480, seed=2)


def _heif(image, **kwargs):
    from pillow_heif import register_heif_opener

    register_heif_opener()
    return encode_bytes(image, "HEIF", **kwargs)


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("jpeg", lambda im: encode_bytes(im, "JPEG", quality=90)),
        ("png", lambda im: encode_bytes(im, "PNG")),
        ("webp-lossy", lambda im: encode_bytes(im, "WEBP", quality=85)),
        ("webp-lossless", lambda im: encode_bytes(im, "WEBP", lossless=True)),
        ("gif", lambda im: encode_bytes(im, "GIF")),
        ("tiff", lambda im: encode_bytes(im, "TIFF")),
        ("tiff-lzw", lambda im: encode_bytes(im, "TIFF", compression="tiff_lzw")),
        ("tiff-jpeg", lambda im: encode_bytes(im, "TIFF", compression="jpeg")),
        ("bmp", lambda im: encode_bytes(im, "BMP")),
        ("heif", lambda im: _heif(im, quality=80)),
        pytest.param("avif", lambda im: encode_bytes(im, "AVIF", quality=80), marks=NEEDS_AVIF),
    ],
)
def test_each_format_decodes(name, make):
    picture = make_quadrants(640, 480)
    image = run(make(picture), label=f"pic.{name}")
    decoded = opened(image)
    assert (image.width, image.height) == (640, 480)
    assert (image.source_width, image.source_height) == (640, 480)
    assert image.label == f"pic.{name}"
    # The colours survive every codec (GIF's palette and lossy codecs within tolerance).
    assert close_to(dominant(decoded, (40, 40, 280, 200)), QUADRANTS["top_left"])
    assert close_to(dominant(decoded, (360, 280, 600, 440)), QUADRANTS["bottom_right"])


@pytest.mark.parametrize(
    ("fmt", "kwargs", "note"),
    [
        ("GIF", {}, "animated GIF: first of 3 frames used"),
        ("WEBP", {"lossless": True}, "animated WebP: first of 3 frames used"),
        ("PNG", {}, "animated PNG: first of 3 frames used"),
        ("TIFF", {}, "multi-page TIFF: first of 3 pages used"),
    ],
)
def test_multi_frame_images_use_the_first_frame(fmt, kwargs, note):
    frames = [Image.new("RGB", (64, 48), colour) for colour in ((220, 30, 30), (30, 220, 30), (30, 30, 220))]
    data = encode_bytes(frames[0], fmt, save_all=True, append_images=frames[1:], **kwargs)
    image = run(data)
    assert image.notes == (note,)
    assert close_to(opened(image).getpixel((32, 24)), (220, 30, 30), tolerance=8)


def test_single_frame_has_no_note():
    assert run(encode_bytes(PHOTO, "GIF")).notes == ()


# --- pixel modes -----------------------------------------------------------------------------


def _palette_with_transparency() -> bytes:
    image = Image.new("P", (40, 20), 0)
    image.putpalette([255, 0, 0, 0, 0, 255])
    image.paste(1, (20, 0, 40, 20))
    return encode_bytes(image, "PNG", transparency=0)  # index 0 (red) is transparent


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("grayscale", lambda: png_bytes(Image.new("L", (40, 20), 90)), (90, 90, 90)),
        ("one-bit", lambda: png_bytes(Image.new("1", (40, 20), 1)), (255, 255, 255)),
        ("grayscale-jpeg", lambda: jpeg_bytes(Image.new("L", (40, 20), 90)), (90, 90, 90)),
        ("16-bit-gray-png", lambda: png_bytes(Image.new("I;16", (40, 20), 40000)), (155, 155, 155)),
        ("16-bit-gray-tiff", lambda: encode_bytes(Image.new("I;16", (40, 20), 40000), "TIFF"), (155, 155, 155)),
        ("16-bit-rgb-png", lambda: png_16bit_rgb(40, 20, (65535, 32896, 0)), (255, 128, 0)),
        ("32-bit-int-tiff", lambda: encode_bytes(Image.new("I", (40, 20), 1_000_000), "TIFF"), (0, 0, 0)),
        ("float-tiff", lambda: encode_bytes(Image.new("F", (40, 20), 0.5), "TIFF"), (128, 128, 128)),
        ("cmyk-jpeg", lambda: jpeg_bytes(Image.new("CMYK", (40, 20), (0, 255, 255, 0))), (255, 0, 0)),
        ("cmyk-tiff", lambda: encode_bytes(Image.new("CMYK", (40, 20), (255, 0, 255, 0)), "TIFF"), (0, 255, 0)),
        ("rgba-transparent", lambda: png_bytes(Image.new("RGBA", (40, 20), (0, 0, 0, 0))), (255, 255, 255)),
        ("rgba-half", lambda: png_bytes(Image.new("RGBA", (40, 20), (0, 0, 0, 128))), (127, 127, 127)),
        ("la-transparent", lambda: png_bytes(Image.new("LA", (40, 20), (0, 0))), (255, 255, 255)),
        (
            "webp-alpha",
            lambda: encode_bytes(Image.new("RGBA", (40, 20), (0, 0, 255, 0)), "WEBP", lossless=True),
            (255, 255, 255),
        ),
    ],
)
def test_pixel_modes_become_rgb(name, data, expected):
    decoded = opened(run(data()))
    assert close_to(decoded.getpixel((5, 5)), expected, tolerance=3), decoded.getpixel((5, 5))


def test_palette_transparency_is_flattened_on_white():
    decoded = opened(run(_palette_with_transparency()))
    assert decoded.getpixel((5, 5)) == (255, 255, 255)  # the transparent index
    assert decoded.getpixel((30, 5)) == (0, 0, 255)  # the opaque one


def test_pa_and_premultiplied_modes_direct():
    from mcv.core.images.color import to_rgb

    pa = Image.new("P", (4, 4), 1)
    pa.putpalette([0, 0, 0, 200, 0, 0])
    pa = pa.convert("PA")
    pa.putalpha(0)
    assert to_rgb(pa).getpixel((0, 0)) == (255, 255, 255)
    rgba = Image.new("RGBA", (4, 4), (200, 0, 0, 255))
    assert to_rgb(rgba.convert("RGBa")).getpixel((0, 0)) == (200, 0, 0)


def test_16_bit_gradient_keeps_its_range():
    # Pillow's plain convert("L") would clip everything above 255 to white.
    gradient = Image.linear_gradient("L").resize((256, 64)).convert("I")
    gradient = gradient.point(lambda v: v * 257).convert("I;16")
    decoded = opened(run(png_bytes(gradient)))
    low, high = decoded.convert("L").getextrema()
    assert low <= 2 and high >= 253


# --- orientation -----------------------------------------------------------------------------


def _quadrant_colours(image: Image.Image) -> dict[str, tuple[int, int, int]]:
    w, h = image.size
    boxes = {
        "top_left": (w // 8, h // 8, 3 * w // 8, 3 * h // 8),
        "top_right": (5 * w // 8, h // 8, 7 * w // 8, 3 * h // 8),
        "bottom_left": (w // 8, 5 * h // 8, 3 * w // 8, 7 * h // 8),
        "bottom_right": (5 * w // 8, 5 * h // 8, 7 * w // 8, 7 * h // 8),
    }
    return {name: dominant(image, box) for name, box in boxes.items()}


def test_exif_rotated_fixture_comes_out_upright(exif_rotated_jpeg):
    stored = Image.open(exif_rotated_jpeg)
    assert stored.size == (400, 300) and stored.getexif()[0x0112] == 6
    [image] = prepare(ImageSource("path", str(exif_rotated_jpeg), "rotated6.jpg"))
    decoded = opened(image)
    assert decoded.size == (300, 400)
    assert (image.source_width, image.source_height) == (300, 400)
    # Orientation 6 = "rotate 90 degrees clockwise to view": the marker that is
    # upright top-left is stored at the bottom-left of the sensor image.
    assert close_to(dominant(stored, (20, 170, 130, 280)), QUADRANTS["top_left"])
    for corner, colour in _quadrant_colours(decoded).items():
        assert close_to(colour, QUADRANTS[corner]), corner


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF", pytest.param("AVIF", marks=NEEDS_AVIF), "HEIF"])
def test_all_eight_orientations(orientation, fmt):
    """Each format stores orientation its own way (EXIF, TIFF tag, irot/imir boxes)."""
    upright = make_quadrants(120, 80)
    stored = stored_for_orientation(upright, orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    kwargs = {"quality": 95} if fmt in ("JPEG", "AVIF", "HEIF") else {}
    data = (
        _heif(stored, exif=exif.tobytes(), **kwargs)
        if fmt == "HEIF"
        else encode_bytes(stored, fmt, exif=exif.tobytes(), **kwargs)
    )
    # Pillow's own exif_transpose agrees that this file shows `upright`.
    reference = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    assert reference.size == (120, 80)
    assert close_to(dominant(reference, (10, 10, 50, 30)), QUADRANTS["top_left"])
    decoded = opened(run(data))
    assert decoded.size == (120, 80)
    for corner, colour in _quadrant_colours(decoded).items():
        assert close_to(colour, QUADRANTS[corner]), (orientation, corner)


def test_rotated_photo_over_budget_is_resized_upright():
    upright = make_quadrants(1500, 2000)  # portrait, 3 MP
    data = jpeg_bytes(stored_for_orientation(upright, 8), quality=92, exif=exif_with_gps(orientation=8))
    image = run(data)
    assert image.width < image.height
    assert image.width * image.height <= MINICPMV_MAX_PIXELS
    assert slice_grid(image.width, image.height) == slice_grid(1500, 2000)
    for corner, colour in _quadrant_colours(opened(image)).items():
        assert close_to(colour, QUADRANTS[corner]), corner


def test_unusable_orientation_values_are_ignored():
    exif = Image.Exif()
    exif[0x0112] = 42
    image = run(jpeg_bytes(make_quadrants(60, 40), exif=exif))
    assert (image.width, image.height) == (60, 40)


# --- budget, grid, metadata, determinism ------------------------------------------------------


def test_photo_fixture_budget_and_grid(photo_jpeg):
    [image] = prepare(ImageSource("path", str(photo_jpeg), "photo.jpg"))
    assert (image.source_width, image.source_height) == (1600, 1200)
    assert image.width * image.height <= MINICPMV_MAX_PIXELS
    assert image.width * image.height > 0.99 * MINICPMV_MAX_PIXELS
    assert slice_grid(image.width, image.height) == slice_grid(1600, 1200)
    assert image.mime == "image/jpeg"


@pytest.mark.parametrize("size", [(4032, 3024), (3024, 4032), (6000, 1000), (1000, 6000), (2500, 2500), (8000, 600)])
def test_big_images_keep_their_grid(size):
    data = jpeg_bytes(make_photo(*size, seed=4), quality=80)
    image = run(data)
    assert image.width * image.height <= MINICPMV_MAX_PIXELS
    assert slice_grid(image.width, image.height) == slice_grid(*size)
    assert abs(image.width / image.height - size[0] / size[1]) / (size[0] / size[1]) < 0.01


def test_small_images_are_never_upscaled():
    image = run(png_bytes(make_quadrants(50, 30)))
    assert (image.width, image.height) == (50, 30)


def test_custom_budget():
    image = run(jpeg_bytes(make_photo(1000, 1000, seed=1)), max_pixels=250_000)
    assert (image.width, image.height) == (500, 500)


def test_metadata_is_stripped(photo_jpeg):
    source = photo_jpeg.read_bytes()
    assert b"GPS" in source or Image.open(photo_jpeg).getexif().get_ifd(0x8825)  # the fixture carries GPS
    assert b"TestPhone" in source
    [image] = prepare(ImageSource("path", str(photo_jpeg), "photo.jpg"))
    assert b"Exif" not in image.data and b"TestPhone" not in image.data
    decoded = Image.open(io.BytesIO(image.data))
    assert not decoded.getexif() and "icc_profile" not in decoded.info and "exif" not in decoded.info


def test_png_output_carries_no_metadata():
    screenshot = make_screenshot(800, 600)
    data = encode_bytes(
        screenshot,
        "PNG",
        exif=exif_with_gps().tobytes(),
        icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
    )
    assert {b"eXIf", b"iCCP"} <= set(_png_chunks(data))
    image = run(data)
    assert image.mime == "image/png"
    assert set(_png_chunks(image.data)) == {b"IHDR", b"IDAT", b"IEND"}  # pixels only


def _png_chunks(data: bytes) -> list[bytes]:
    """The chunk types of a PNG, in order."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    kinds, position = [], 8
    while position < len(data):
        length = int.from_bytes(data[position : position + 4], "big")
        kinds.append(data[position + 4 : position + 8])
        position += 12 + length
    return kinds


def test_same_input_gives_identical_bytes(photo_jpeg, receipt_png):
    for path in (photo_jpeg, receipt_png):
        first = prepare(ImageSource("path", str(path), path.name))[0]
        second = prepare(ImageSource("path", str(path), path.name))[0]
        assert first.data == second.data and first.sha256 == second.sha256


def test_quality_setting_changes_the_bytes(photo_jpeg):
    low = prepare(ImageSource("path", str(photo_jpeg), "p"), PrepareSettings(jpeg_quality=50))[0]
    high = prepare(ImageSource("path", str(photo_jpeg), "p"), PrepareSettings(jpeg_quality=95))[0]
    assert len(low.data) < len(high.data)


def test_prepared_image_helpers(photo_jpeg):
    [image] = prepare(ImageSource("path", str(photo_jpeg), "photo.jpg"))
    assert image.data_url().startswith("data:image/jpeg;base64,/9j/")
    assert image.b64() == image.data_url().split(",", 1)[1]


# --- output format rule ------------------------------------------------------------------------


def test_receipt_png_stays_png(receipt_png):
    [image] = prepare(ImageSource("path", str(receipt_png), "receipt.png"))
    assert image.mime == "image/png"
    decoded = opened(image)
    # Lossless: the pixels are exactly the receipt's.
    assert decoded.convert("L").tobytes() == make_receipt().tobytes()


def test_screenshot_png_stays_png_when_downscaled(screenshot_png):
    [image] = prepare(ImageSource("path", str(screenshot_png), "screen.png"))
    assert image.mime == "image/png"
    assert image.width * image.height <= MINICPMV_MAX_PIXELS
    assert slice_grid(image.width, image.height) == slice_grid(2560, 1440)


def test_photo_saved_as_png_goes_as_jpeg():
    data = png_bytes(make_photo(800, 600, seed=9))
    image = run(data)
    assert image.mime == "image/jpeg"
    assert len(image.data) < len(data) / 3


def test_flat_content_from_a_lossy_source_stays_jpeg():
    image = run(jpeg_bytes(make_screenshot(800, 600)))
    assert image.mime == "image/jpeg"


# --- colour profiles ---------------------------------------------------------------------------


def test_icc_profile_is_applied():
    red = Image.new("RGB", (40, 20), (255, 0, 0))
    for fmt, kwargs in (("JPEG", {"quality": 95}), ("PNG", {})):
        data = encode_bytes(red, fmt, icc_profile=icc_swapped_rgb(), **kwargs)
        # The profile says the first channel is blue, so the picture is blue.
        assert close_to(opened(run(data)).getpixel((5, 5)), (0, 0, 255), tolerance=6), fmt


def test_srgb_profile_changes_nothing():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = make_screenshot(300, 200)
    image = run(encode_bytes(picture, "PNG", icc_profile=srgb))
    assert opened(image).tobytes() == picture.tobytes()


def test_broken_icc_profile_is_ignored():
    image = run(encode_bytes(Image.new("RGB", (40, 20), (255, 0, 0)), "PNG", icc_profile=b"not a profile" * 10))
    assert opened(image).getpixel((5, 5)) == (255, 0, 0)


# --- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "settings",
    [{"max_pixels": 0}, {"jpeg_quality": 0}, {"jpeg_quality": 101}, {"max_input_bytes": -1}, {"max_pages": 0}],
)
def test_nonsense_settings_are_usage_errors(settings, photo_jpeg):
    with pytest.raises(UsageError, match="^image settings: "):
        prepare(ImageSource("path", str(photo_jpeg), "p"), PrepareSettings(**settings))


# --- laziness and concurrency --------------------------------------------------------------------


def test_heif_support_loads_only_for_heif_input(tmp_path):
    import subprocess
    import sys

    heif = tmp_path / "x.heic"
    heif.write_bytes(_heif(make_quadrants(64, 48), quality=80))
    jpeg = tmp_path / "x.jpg"
    jpeg.write_bytes(jpeg_bytes(make_quadrants(64, 48)))
    code = (
        "import sys\n"
        "from mcv.core.images.prepare import prepare\n"
        "from mcv.core.images.sources import parse_image_arg\n"
        f"prepare(parse_image_arg({str(jpeg)!r}))\n"
        "print('pillow_heif' in sys.modules)\n"
        f"prepare(parse_image_arg({str(heif)!r}))\n"
        "print('pillow_heif' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]


def test_concurrent_prepares_match_sequential_ones(photo_jpeg, tmp_path):
    """PDFium and the lifted Pillow limit are guarded by locks; threads must not disturb each other."""
    from concurrent.futures import ThreadPoolExecutor

    from support.images import pdf_bytes

    pdf = tmp_path / "pages.pdf"
    pdf.write_bytes(pdf_bytes([make_receipt(), make_quadrants(300, 200)]))
    jobs = [
        (ImageSource("path", str(photo_jpeg), "photo.jpg"), PrepareSettings()),
        (ImageSource("path", str(pdf), "pages.pdf"), PrepareSettings(pages="1-2")),
        (ImageSource("bytes", png_bytes(make_screenshot(900, 700)), "shot.png"), PrepareSettings()),
    ] * 4
    sequential = [[image.sha256 for image in prepare(*job)] for job in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        concurrent = list(pool.map(lambda job: [image.sha256 for image in prepare(*job)], jobs))
    assert concurrent == sequential


def test_a_large_resize_in_bands_matches_one_resize_without_a_seam():
    from PIL import Image, ImageChops

    from mcv.core.images.prepare import resize_in_strips
    from support.images import make_photo

    photo = make_photo(2016, 1512, seed=5)
    size = (1551, 1163)
    whole = photo.resize(size, Image.Resampling.BICUBIC, reducing_gap=3.0)
    banded = resize_in_strips(photo, size, Image.Resampling.BICUBIC)
    assert banded.size == size and banded.mode == whole.mode
    difference = ImageChops.difference(whole, banded).convert("L")
    # Each band places its filter from its own box: rounding, not a different picture.
    assert difference.getextrema()[1] <= 4
    histogram = difference.histogram()
    assert sum(level * count for level, count in enumerate(histogram)) / sum(histogram) < 0.5
    seam = round(size[1] / 2)
    near_seam = difference.crop((0, seam - 3, size[0], seam + 3)).getextrema()[1]
    inside = difference.crop((0, seam + 50, size[0], seam + 56)).getextrema()[1]
    assert near_seam <= max(inside, 2)  # the bands meet without an edge of their own
    assert resize_in_strips(photo, size, Image.Resampling.BICUBIC).tobytes() == banded.tobytes()  # deterministic
    small = make_photo(800, 600, seed=5)
    assert resize_in_strips(small, (400, 300), Image.Resampling.BICUBIC).tobytes() == small.resize(
        (400, 300), Image.Resampling.BICUBIC, reducing_gap=3.0
    ).tobytes()  # below a megapixel: one plain resize
