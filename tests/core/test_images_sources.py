"""Which arguments are images, and reading their bytes from files, stdin and memory."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest

from mcv.errors import InputError
from mcv.core.images import sources
from mcv.core.images.prepare import prepare
from mcv.core.images.sources import (
    clipboard_source,
    looks_like_image_path,
    parse_image_arg,
    read_source,
)
from mcv.core.images.types import ImageSource, PrepareSettings


def test_existing_file_is_a_path_source(tmp_path, photo_jpeg):
    source = parse_image_arg(str(photo_jpeg))
    assert source is not None and source.kind == "path"
    assert source.value == str(photo_jpeg)
    assert source.label == str(photo_jpeg)


def test_relative_path_resolves_against_cwd(tmp_path):
    (tmp_path / "shot.png").write_bytes(b"x")
    source = parse_image_arg("shot.png", cwd=tmp_path)
    assert source is not None and source.kind == "path"
    assert source.value == str(tmp_path / "shot.png")
    assert source.label == "shot.png"  # messages use what the user typed
    assert parse_image_arg("shot.png", cwd=tmp_path / "elsewhere") is None


def test_urls_stdin_and_prompts():
    assert parse_image_arg("https://example.com/cat.jpg") == ImageSource(
        "url", "https://example.com/cat.jpg", "https://example.com/cat.jpg"
    )
    assert parse_image_arg("HTTP://example.com/x").kind == "url"
    assert parse_image_arg("-") == ImageSource("stdin", "-", "stdin")
    assert parse_image_arg("what is in this picture") is None
    assert parse_image_arg("") is None
    assert parse_image_arg("ftp://example.com/cat.jpg") is None
    assert parse_image_arg("see https://example.com/cat.jpg") is None  # a sentence, not a URL


def test_directories_and_impossible_names_are_prompt_text(tmp_path):
    assert parse_image_arg(str(tmp_path)) is None
    assert parse_image_arg("a\x00b.png") is None  # the OS rejects NUL: not an error, just not a file
    assert parse_image_arg("x" * 5000) is None


def test_file_url_of_an_existing_file(tmp_path):
    path = tmp_path / "my photo.png"
    path.write_bytes(b"x")
    source = parse_image_arg("file://" + str(path).replace(" ", "%20"))
    assert source is not None and source.kind == "path" and source.value == str(path)
    assert parse_image_arg("file:///no/such/file.png") is None


@pytest.mark.parametrize(
    ("arg", "expected"),
    [
        ("cat.jpg", True),
        ("CAT.JPEG", True),
        ("scan.pdf", True),
        ("photos/day 1.heic", True),
        ("shot.webp", True),
        ("what is in cat.jpg", False),
        ("describe this", False),
        ("notes.txt", False),
        ("cat", False),
        ("", False),
        ("line\nbreak.png", False),
    ],
)
def test_looks_like_image_path(arg, expected):
    assert looks_like_image_path(arg) is expected


def test_clipboard_source():
    source = clipboard_source()
    assert source.kind == "clipboard" and source.label == "clipboard"


def test_sources_module_does_not_import_pil_or_httpx():
    code = (
        "import sys; import mcv.core.images.sources, mcv.core.images.prepare, mcv.core.images; "
        "print(sorted(m for m in ('PIL', 'httpx', 'numpy', 'pypdfium2', 'pillow_heif') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# --- reading bytes ---------------------------------------------------------------------------


def test_read_path(photo_jpeg):
    data = read_source(ImageSource("path", str(photo_jpeg), "photo.jpg"), PrepareSettings())
    assert data == photo_jpeg.read_bytes()


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match=r"^gone\.jpg: no such file$"):
        read_source(ImageSource("path", str(tmp_path / "gone.jpg"), "gone.jpg"), PrepareSettings())
    with pytest.raises(InputError, match="is a directory"):
        read_source(ImageSource("path", str(tmp_path), "somedir"), PrepareSettings())


def test_unreadable_file(tmp_path, monkeypatch):
    path = tmp_path / "secret.png"
    path.write_bytes(b"x")
    path.chmod(0)
    if os.name != "posix" or os.geteuid() == 0:  # root reads anything: make open() refuse instead

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(sources, "open", refuse, raising=False)
    with pytest.raises(InputError, match=r"^secret\.png: permission denied$"):
        read_source(ImageSource("path", str(path), "secret.png"), PrepareSettings())


def test_file_over_the_default_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.jpg"
    with open(path, "wb") as file:  # sparse: 101 MB that costs no disk and no read time
        file.truncate(101_000_000)
    with pytest.raises(InputError) as caught:
        prepare(ImageSource("path", str(path), "huge.jpg"))
    assert str(caught.value) == "huge.jpg: 101 MB, over the 100 MB limit for an image input"
    assert caught.value.exit_code == 2


def test_endless_stream_is_cut_at_the_cap():
    class Endless(io.RawIOBase):
        def readinto(self, buffer):
            buffer[:] = b"\xff" * len(buffer)
            return len(buffer)

    with pytest.raises(InputError, match=r"^stdin: larger than the 1\.0 MB limit"):
        read_source(ImageSource("stdin", "-", "stdin"), PrepareSettings(max_input_bytes=1 << 20), stdin=Endless())


def test_stdin_image(photo_jpeg):
    stdin = io.BytesIO(photo_jpeg.read_bytes())
    [image] = prepare(ImageSource("stdin", "-", "stdin"), stdin=stdin)
    assert image.label == "stdin" and image.mime == "image/jpeg"
    assert (image.source_width, image.source_height) == (1600, 1200)


def test_empty_stdin():
    with pytest.raises(InputError, match=r"^stdin: empty \(0 bytes\)$"):
        prepare(ImageSource("stdin", "-", "stdin"), stdin=io.BytesIO(b""))


def test_closed_stdin():
    stream = io.BytesIO(b"abc")
    stream.close()
    with pytest.raises(InputError, match="^stdin: cannot read"):
        prepare(ImageSource("stdin", "-", "stdin"), stdin=stream)


def test_real_stdin_pipe(photo_jpeg):
    """`cat photo.jpg | python -c prepare(stdin source)` with the process's own stdin."""
    code = (
        "from mcv.core.images.prepare import prepare; from mcv.core.images.sources import parse_image_arg; "
        "[i] = prepare(parse_image_arg('-')); print(i.mime, i.source_width, i.source_height)"
    )
    with open(photo_jpeg, "rb") as stdin:
        out = subprocess.run([sys.executable, "-c", code], stdin=stdin, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["image/jpeg", "1600", "1200"]


def test_bytes_source(photo_jpeg):
    data = photo_jpeg.read_bytes()
    [image] = prepare(ImageSource("bytes", data, "pasted image"))
    assert image.label == "pasted image"
    with pytest.raises(InputError, match="^pasted image: .* over the"):
        prepare(ImageSource("bytes", data, "pasted image"), PrepareSettings(max_input_bytes=1000))


def test_a_name_that_is_not_utf8_opens_and_has_a_writable_label(tmp_path, photo_jpeg):
    raw = bytes(tmp_path) + b"/re\xe7u \xff.jpg"
    with open(raw, "wb") as file:
        file.write(photo_jpeg.read_bytes())
    name = os.fsdecode(raw)  # as sys.argv holds it: lone surrogates for the undecodable bytes
    source = parse_image_arg(name)
    assert source is not None and source.kind == "path" and os.fsencode(source.value) == raw
    assert source.label == name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    assert "\ufffd" in source.label
    source.label.encode("utf-8")  # what the history, /save and JSON need
    [image] = prepare(source)
    assert image.label == source.label and image.width > 0
    from urllib.parse import quote

    url = parse_image_arg("file://" + quote(raw))
    assert url is not None and os.fsencode(url.value) == raw and url.label.isascii()
    assert sources.display_name("plain") == "plain" and sources.display_name("\ud800x") == "\ufffd\ufffd\ufffdx"
