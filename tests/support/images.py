"""Generated images for tests: realistic, odd and hostile. Nothing binary is committed.

Fixtures (session scoped; files are written once into a tmp dir, treat them as read-only):
    photo_jpeg          1600x1200 photo-like JPEG (gradients, shapes, noise), ~0.5 MB,
                        with camera and GPS EXIF (for privacy checks)
    exif_rotated_jpeg   stored 400x300 with EXIF orientation 6; upright it is 300x400 with
                        the quadrants of QUADRANTS (red top-left, green top-right,
                        blue bottom-left, yellow bottom-right)
    receipt_png         600x1400 grayscale PNG receipt, black text on white (says TOTAL 42.00)
    screenshot_png      2560x1440 RGB PNG of flat UI colours and anti-aliased text

Functions:
    make_photo(width, height, seed=0) -> PIL.Image (RGB, deterministic for a seed)
    make_quadrants(width, height) -> PIL.Image with QUADRANTS colours
    stored_for_orientation(upright, orientation) -> the pixels a camera stores for that EXIF orientation
    jpeg_bytes(image, quality=90, exif=None) / png_bytes(image) / encode_bytes(image, fmt, **kw)
    exif_with_gps(orientation=None) -> PIL.Image.Exif with camera make and GPS position
    png_16bit_rgb(width, height, rgb16) -> bytes of a 48-bit RGB PNG
    png_header_bomb(width, height) -> bytes of a PNG claiming a huge size with almost no data
    png_deflate_bomb(width, height) -> bytes of a real 1-bit PNG that inflates to width*height/8 bytes
    jpeg_header_bomb(width, height) -> bytes of a JPEG whose SOF claims a huge size
    icc_swapped_rgb() -> bytes of a matrix/TRC RGB profile with red and blue colorants swapped
    pdf_bytes(pages) -> bytes of a PDF, one page per PIL image (Pillow's PDF writer)
    hostile_files(tmp_path) -> dict[name, Path] of zero-byte, truncated, wrong, bomb files
    dominant(image, box) -> the median colour of a box of a PIL image
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

import pytest

# Upright corner colours of the orientation fixtures.
QUADRANTS = {
    "top_left": (230, 20, 20),
    "top_right": (20, 200, 40),
    "bottom_left": (20, 40, 220),
    "bottom_right": (240, 220, 20),
}
# What PIL applies to stored pixels to make them upright, per EXIF orientation.
# Tests also check this against ImageOps.exif_transpose, so it is not trusted blindly.
_TO_UPRIGHT = {2: "FLIP_LEFT_RIGHT", 3: "ROTATE_180", 4: "FLIP_TOP_BOTTOM", 5: "TRANSPOSE",
               6: "ROTATE_270", 7: "TRANSVERSE", 8: "ROTATE_90"}  # fmt: skip
_INVERSE = {"ROTATE_270": "ROTATE_90", "ROTATE_90": "ROTATE_270"}


# --- generated pictures -----------------------------------------------------------------


def make_photo(width: int, height: int, seed: int = 0):
    """A photo-like RGB image: smooth gradients, soft shapes and sensor-like noise.

    JPEG-compresses like a camera photo (a 12 MP one is ~3-6 MB at q92) and has
    far more colours than a screenshot. Deterministic for a given seed.
    """
    from PIL import Image, ImageChops, ImageDraw, ImageFilter

    rnd = random.Random(seed)
    vertical = Image.linear_gradient("L").resize((width, height))
    horizontal = vertical.transpose(Image.Transpose.ROTATE_90).resize((width, height))
    radial = Image.radial_gradient("L").resize((width, height))
    bands = []
    for _ in range(3):
        mix = Image.blend(vertical, horizontal, rnd.uniform(0.2, 0.8))
        bands.append(Image.blend(mix, radial, rnd.uniform(0.1, 0.5)))
    image = Image.merge("RGB", bands)
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rnd.randrange(width), rnd.randrange(height)
        rx, ry = rnd.randint(width // 20, width // 4), rnd.randint(height // 20, height // 4)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        draw.ellipse((x - rx, y - ry, x + rx, y + ry), fill=colour)
    image = image.filter(ImageFilter.GaussianBlur(max(1, width // 400)))
    noise = Image.frombytes("RGB", (width, height), rnd.randbytes(width * height * 3))
    noise = noise.point(lambda value: value // 6)  # 0..42: +-21 around the offset below
    return ImageChops.add(image, noise, scale=1.0, offset=-21)


def make_quadrants(width: int, height: int):
    """Four flat quadrants in the QUADRANTS colours (upright reference for orientation tests)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    half_w, half_h = width // 2, height // 2
    draw.rectangle((0, 0, half_w - 1, half_h - 1), fill=QUADRANTS["top_left"])
    draw.rectangle((half_w, 0, width - 1, half_h - 1), fill=QUADRANTS["top_right"])
    draw.rectangle((0, half_h, half_w - 1, height - 1), fill=QUADRANTS["bottom_left"])
    draw.rectangle((half_w, half_h, width - 1, height - 1), fill=QUADRANTS["bottom_right"])
    return image


def stored_for_orientation(upright, orientation: int):
    """The stored pixels whose display under EXIF `orientation` is `upright`."""
    from PIL import Image

    if orientation == 1:
        return upright.copy()
    to_upright = _TO_UPRIGHT[orientation]
    return upright.transpose(getattr(Image.Transpose, _INVERSE.get(to_upright, to_upright)))


def make_receipt(width: int = 600, height: int = 1400):
    """A grayscale receipt: black text on white, a rule, a total."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=28)
    lines = ["CORNER SHOP", "12 Main Street", ""] + [f"Item {n:02d}      {n * 1.25:6.2f}" for n in range(1, 25)]
    y = 30
    for line in lines:
        draw.text((40, y), line, fill=0, font=font)
        y += 44
    draw.line((40, y + 10, width - 40, y + 10), fill=0, width=3)
    draw.text((40, y + 30), "TOTAL        42.00", fill=0, font=ImageFont.load_default(size=40))
    return image


def make_screenshot(width: int = 2560, height: int = 1440):
    """A UI-like screenshot: flat panels and anti-aliased coloured text."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("RGB", (width, height), (246, 246, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, 64), fill=(40, 44, 52))
    draw.rectangle((0, 64, 360, height), fill=(230, 232, 236))
    font = ImageFont.load_default(size=26)
    palette = [(20, 20, 20), (200, 40, 40), (30, 110, 200), (30, 140, 60)]
    for row in range(40):
        colour = palette[row % len(palette)]
        draw.text(
            (400, 90 + row * 32),
            f"{row:3d}  def handler(request): return error_{row}  # fix me",
            fill=colour,
            font=font,
        )
    for row in range(20):
        draw.text((20, 90 + row * 40), f"file_{row}.py", fill=(60, 60, 60), font=font)
    draw.text((20, 14), "Traceback (most recent call last):", fill=(250, 250, 250), font=font)
    return image


# --- encoders and crafted bytes -------------------------------------------------------------


def encode_bytes(image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def jpeg_bytes(image, quality: int = 90, exif=None) -> bytes:
    kwargs = {"quality": quality}
    if exif is not None:
        kwargs["exif"] = exif.tobytes() if hasattr(exif, "tobytes") else exif
    return encode_bytes(image, "JPEG", **kwargs)


def png_bytes(image) -> bytes:
    return encode_bytes(image, "PNG")


def exif_with_gps(orientation: int | None = None):
    """EXIF a phone would write: make, model, date and a GPS position (what must not leak)."""
    from PIL import Image

    exif = Image.Exif()
    exif[0x010F] = "TestPhone Inc"  # Make
    exif[0x0110] = "Model GPS-1"  # Model
    exif[0x0132] = "2026:01:02 03:04:05"  # DateTime
    if orientation is not None:
        exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (52.0, 22.0, 12.5)
    gps[3] = "E"
    gps[4] = (4.0, 53.0, 41.0)
    return exif


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_16bit_rgb(width: int, height: int, rgb16: tuple[int, int, int]) -> bytes:
    """A 48-bit RGB PNG filled with one 16-bit colour (Pillow cannot write these)."""
    pixel = struct.pack(">HHH", *rgb16)
    raw = b"".join(b"\x00" + pixel * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def png_header_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid PNG header for a huge grayscale image, with one row of data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * (width + 1))
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", data) + _png_chunk(b"IEND", b"")


def png_deflate_bomb(width: int = 20_000, height: int = 20_000) -> bytes:
    """A complete, valid 1-bit PNG of zeros: ~50 KB that decodes to width*height pixels."""
    row = b"\x00" * (1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", b"".join(parts))
        + _png_chunk(b"IEND", b"")
    )


def jpeg_header_bomb(width: int = 65_000, height: int = 65_000) -> bytes:
    """A small real JPEG with its SOF frame size patched to a huge one (the scan data is far too short)."""
    from PIL import Image

    data = bytearray(jpeg_bytes(Image.new("RGB", (16, 16), (128, 128, 128))))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, height, width)
    return bytes(data)


def icc_swapped_rgb() -> bytes:
    """An ICC v2 RGB display profile whose red and blue colorants are swapped.

    Pixels tagged with it that say "red" are blue in sRGB: a test can tell
    whether the profile was applied. The description avoids the word sRGB.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    def xyz(x: float, y: float, z: float) -> bytes:
        return b"XYZ \x00\x00\x00\x00" + s15(x) + s15(y) + s15(z)

    def curve(gamma: float) -> bytes:
        return b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(gamma * 256)) + b"\x00\x00"

    def text_description(text: str) -> bytes:
        ascii_ = text.encode("ascii") + b"\x00"
        return b"desc\x00\x00\x00\x00" + struct.pack(">I", len(ascii_)) + ascii_ + b"\x00" * 12 + b"\x00" * 67

    # sRGB's D50-adapted colorants, with red and blue exchanged.
    tags = [
        (b"desc", text_description("mcv test swapped RGB")),
        (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),
        (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),
        (b"rTRC", curve(2.2)),
        (b"gTRC", curve(2.2)),
        (b"bTRC", curve(2.2)),
        (b"cprt", b"text\x00\x00\x00\x00no copyright\x00"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        data += b"\x00" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (
        struct.pack(">I", size) + b"\x00" * 4 + b"\x02\x10\x00\x00" + b"mntrRGB XYZ "
        + b"\x00" * 12 + b"acsp" + b"\x00" * 24 + struct.pack(">I", 0)
        + s15(0.9642) + s15(1.0) + s15(0.8249) + b"\x00" * 48
    )  # fmt: skip
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


def pdf_bytes(pages) -> bytes:
    """A PDF with one page per PIL image (72 DPI: a page is as many points as the image has pixels)."""
    first, *rest = [page.convert("RGB") for page in pages]
    return encode_bytes(first, "PDF", save_all=True, append_images=rest, resolution=72.0)


def dominant(image, box: tuple[int, int, int, int]) -> tuple[int, int, int]:
    """The per-channel median colour of `box` in an RGB image (robust to JPEG ringing at edges)."""
    region = image.convert("RGB").crop(box)
    medians = []
    for channel in region.split():
        values = sorted(channel.tobytes())
        medians.append(values[len(values) // 2])
    return tuple(medians)


# --- hostile inputs -------------------------------------------------------------------------


def hostile_files(tmp_path: Path) -> dict[str, Path]:
    """Files that must each give a one-line InputError, never a traceback or a hang.

    Keys: zero_bytes, truncated_jpeg, truncated_png, text_as_jpg, html_as_png,
    svg_as_png, random_bytes, gif_header_only, webp_garbage, jpeg_magic_only,
    broken_pdf, png_header_bomb, png_deflate_bomb, jpeg_header_bomb, mp4_video.
    """
    rnd = random.Random(1234)
    photo = jpeg_bytes(make_photo(320, 240, seed=5))
    screen = png_bytes(make_screenshot(400, 300))
    contents = {
        "zero_bytes.jpg": b"",
        "truncated_jpeg.jpg": photo[: len(photo) // 2],
        "truncated_png.png": screen[: len(screen) // 2],
        "text_as_jpg.jpg": b"Dear user,\nthis is a letter, not a picture.\n" * 20,
        "html_as_png.png": b"<!DOCTYPE html><html><body><h1>404 Not Found</h1></body></html>",
        "svg_as_png.png": b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "random_bytes.bin": rnd.randbytes(4096),
        "gif_header_only.gif": b"GIF89a" + rnd.randbytes(64),
        "webp_garbage.webp": b"RIFF" + struct.pack("<I", 200) + b"WEBPVP8 " + rnd.randbytes(200),
        "jpeg_magic_only.jpg": b"\xff\xd8\xff",
        "broken_pdf.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n%%EOF garbage",
        "png_header_bomb.png": png_header_bomb(),
        "png_deflate_bomb.png": png_deflate_bomb(),
        "jpeg_header_bomb.jpg": jpeg_header_bomb(),
        "mp4_video.mp4": b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + rnd.randbytes(64),
    }
    paths = {}
    for filename, data in contents.items():
        path = tmp_path / filename
        path.write_bytes(data)
        paths[filename.split(".")[0]] = path
    return paths


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("images")


@pytest.fixture(scope="session")
def photo_jpeg(image_dir: Path) -> Path:
    path = image_dir / "photo.jpg"
    path.write_bytes(jpeg_bytes(make_photo(1600, 1200, seed=1), quality=92, exif=exif_with_gps()))
    return path


@pytest.fixture(scope="session")
def exif_rotated_jpeg(image_dir: Path) -> Path:
    path = image_dir / "rotated6.jpg"
    stored = stored_for_orientation(make_quadrants(300, 400), 6)
    path.write_bytes(jpeg_bytes(stored, quality=95, exif=exif_with_gps(orientation=6)))
    return path


@pytest.fixture(scope="session")
def receipt_png(image_dir: Path) -> Path:
    path = image_dir / "receipt.png"
    make_receipt().save(path, format="PNG")
    return path


@pytest.fixture(scope="session")
def screenshot_png(image_dir: Path) -> Path:
    path = image_dir / "screenshot.png"
    make_screenshot().save(path, format="PNG")
    return path
