"""PDF pages as images: selection, labels, render size, failures."""

from __future__ import annotations

import io
import math

import pytest
from PIL import Image
from support.images import dominant, make_receipt, pdf_bytes

from mcv.errors import InputError
from mcv.core.images.grid import slice_grid
from mcv.core.images.pdf import parse_pages, render_scale
from mcv.core.images.prepare import prepare
from mcv.core.images.types import MINICPMV_MAX_PIXELS, ImageSource, PrepareSettings

PAGE_COLOURS = [(220, 30, 30), (30, 180, 30), (30, 30, 220), (200, 200, 30), (150, 30, 150)]


@pytest.fixture(scope="module")
def five_pages(tmp_path_factory):
    """A 5-page PDF, each page 300x200 pt filled with its PAGE_COLOURS entry."""
    path = tmp_path_factory.mktemp("pdf") / "five.pdf"
    path.write_bytes(pdf_bytes([Image.new("RGB", (300, 200), colour) for colour in PAGE_COLOURS]))
    return path


def run(path, label="five.pdf", **settings):
    return prepare(ImageSource("path", str(path), label), PrepareSettings(**settings))


def colour_of(image):
    """The page colour, snapped to PAGE_COLOURS (Pillow's PDF writer stores pages as JPEG)."""
    decoded = Image.open(io.BytesIO(image.data))
    colour = dominant(decoded, (10, 10, decoded.width - 10, decoded.height - 10))
    nearest = min(PAGE_COLOURS, key=lambda known: sum(abs(a - b) for a, b in zip(colour, known)))
    assert sum(abs(a - b) for a, b in zip(colour, nearest)) < 12, colour
    return nearest


def test_default_is_page_one(five_pages):
    [image] = run(five_pages)
    assert image.label == "five.pdf#page=1"
    assert colour_of(image) == PAGE_COLOURS[0]


def test_page_selection(five_pages):
    images = run(five_pages, pages="1-3,5")
    assert [image.label for image in images] == [f"five.pdf#page={n}" for n in (1, 2, 3, 5)]
    assert [colour_of(image) for image in images] == [PAGE_COLOURS[n - 1] for n in (1, 2, 3, 5)]


def test_selection_is_sorted_and_deduplicated():
    assert parse_pages(" 5, 1-2 ,2", 5, "x", 50) == [1, 2, 5]
    assert parse_pages(None, 5, "x", 50) == [1]
    assert parse_pages("", 5, "x", 50) == [1]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("7", "five.pdf: there is no page 7 (the PDF has 5 pages)"),
        ("2-9", "five.pdf: there is no page 9 (the PDF has 5 pages)"),
        ("0", "five.pdf: bad page range '0' (pages count from 1, low to high)"),
        ("3-1", "five.pdf: bad page range '3-1' (pages count from 1, low to high)"),
        ("one", "five.pdf: bad page selection 'one' (write it like 1-3,5)"),
        ("1,,2", "five.pdf: bad page selection '1,,2' (write it like 1-3,5)"),
    ],
)
def test_bad_selections(five_pages, spec, message):
    with pytest.raises(InputError) as caught:
        run(five_pages, pages=spec)
    assert str(caught.value) == message


def test_page_cap(five_pages):
    with pytest.raises(InputError, match=r"^five\.pdf: more than 2 pages selected$"):
        run(five_pages, pages="1-3", max_pages=2)


def test_small_page_is_rendered_at_the_dpi_cap(five_pages):
    [image] = run(five_pages)
    assert (image.width, image.height) == (600, 400)  # 300x200 pt at 144 DPI
    [image] = run(five_pages, pdf_dpi=72)
    assert (image.width, image.height) == (300, 200)


def test_a4_page_fills_the_budget(tmp_path):
    path = tmp_path / "a4.pdf"
    path.write_bytes(pdf_bytes([Image.new("RGB", (595, 842), "white")]))
    [image] = run(path, label="a4.pdf")
    assert 0.97 * MINICPMV_MAX_PIXELS <= image.width * image.height <= MINICPMV_MAX_PIXELS
    assert math.isclose(image.width / image.height, 595 / 842, rel_tol=0.01)
    assert slice_grid(image.width, image.height) == slice_grid(5950, 8420)


def test_rendered_text_stays_png(tmp_path):
    path = tmp_path / "receipt.pdf"
    path.write_bytes(pdf_bytes([make_receipt()]))
    [image] = run(path, label="receipt.pdf")
    assert image.mime == "image/png"


def test_rotated_page(tmp_path):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(pdf_bytes([Image.new("RGB", (300, 200), "white")]))
    document[0].set_rotation(90)
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    path = tmp_path / "rotated.pdf"
    path.write_bytes(buffer.getvalue())
    [image] = run(path, label="rotated.pdf")
    assert (image.width, image.height) == (400, 600)


def test_render_scale_respects_the_budget():
    for width, height in [(595, 842), (612, 792), (14400, 14400), (3, 20000), (100, 100)]:
        scale = render_scale(width, height, MINICPMV_MAX_PIXELS, 144)
        assert scale <= 2.0
        assert (width * scale + 1) * (height * scale + 1) <= MINICPMV_MAX_PIXELS * 1.0001


def test_huge_page_stays_within_the_budget(tmp_path):
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    document.new_page(14400, 14400)  # the largest page PDF allows: 200 x 200 inches
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    path = tmp_path / "poster.pdf"
    path.write_bytes(buffer.getvalue())
    [image] = run(path, label="poster.pdf")
    assert image.width * image.height <= MINICPMV_MAX_PIXELS
    assert image.width == image.height


def test_pdf_without_pages(tmp_path):
    # PDFium refuses a page tree with no pages; its reason is whatever error it last
    # recorded (a global), so only the shape of the message is checked.
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument.new()
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    path = tmp_path / "empty.pdf"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(InputError, match=r"^empty\.pdf: (the PDF has no pages|not a readable PDF \(.+\))$"):
        run(path, label="empty.pdf")


def test_broken_and_truncated_pdfs(tmp_path, five_pages):
    path = tmp_path / "broken.pdf"
    path.write_bytes(b"%PDF-1.7\nthis is not really a PDF\n")
    with pytest.raises(InputError, match=r"^broken\.pdf: not a readable PDF \(data format error\)$"):
        run(path, label="broken.pdf")
    data = five_pages.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    try:
        images = run(path, label="cut.pdf")  # PDFium repairs what it can...
    except InputError as err:  # ...or refuses it in one line
        assert str(err).startswith("cut.pdf: ")
    else:
        assert all(image.label.startswith("cut.pdf#page=") for image in images)
