"""XMP sidecars as photo tools read them: written, merged into an existing one, read back by
the real exiftool (libimage-exiftool-perl) and exiv2."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from mcv.core.batch.xmp import merge, read_field, sidecar_path, write_sidecar
from mcv.errors import InputError

needs_tools = pytest.mark.skipif(
    not (shutil.which("exiftool") and shutil.which("exiv2")),
    reason="needs exiftool and exiv2 (apt-get install libimage-exiftool-perl exiv2)",
)


def exiftool(path: Path) -> dict:
    out = subprocess.run(["exiftool", "-j", "-G1", "-struct", str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)[0]


def exiv2(path: Path) -> dict[str, str]:
    """exiv2's XMP keys and their values (`-PXkv`)."""
    out = subprocess.run(["exiv2", "-PXkv", str(path)], capture_output=True, text=True)
    values: dict[str, str] = {}
    for line in out.stdout.splitlines():
        key, _, value = line.partition(" ")
        values[key] = value.strip()
    return values


def test_sidecar_names_both_styles():
    assert sidecar_path("/p/photo.jpg") == Path("/p/photo.xmp")  # digiKam, Lightroom
    assert sidecar_path("/p/photo.jpg", "full") == Path("/p/photo.jpg.xmp")  # darktable
    assert sidecar_path("/p/archive.tar.gz", "stem") == Path("/p/archive.tar.xmp")


@needs_tools
def test_a_new_sidecar_holds_each_field_where_tools_look(tmp_path):
    path = tmp_path / "photo.xmp"
    write_sidecar(path, "alt", "A brown dog on a beach & the sea <3")
    write_sidecar(path, "description", "A dog runs along the shore at low tide.")
    write_sidecar(path, "title", "Dog at the shore")
    write_sidecar(path, "subject", ["dog", "beach", "Dog", "sea "])
    tags = exiftool(path)
    assert tags["XMP-iptcCore:AltTextAccessibility"] == "A brown dog on a beach & the sea <3"
    assert tags["XMP-dc:Description"] == "A dog runs along the shore at low tide."
    assert tags["XMP-dc:Title"] == "Dog at the shore"
    assert tags["XMP-dc:Subject"] == ["dog", "beach", "sea"]  # no duplicates, trimmed
    keys = exiv2(path)
    assert keys["Xmp.iptc.AltTextAccessibility"] == 'lang="x-default" A brown dog on a beach & the sea <3'
    assert keys["Xmp.dc.subject"] == "dog, beach, sea"
    assert keys["Xmp.dc.title"] == 'lang="x-default" Dog at the shore'


@needs_tools
def test_an_existing_sidecar_keeps_every_other_field(tmp_path):
    path = tmp_path / "photo.xmp"
    subprocess.run(
        ["exiftool", "-q", "-o", str(path), "-XMP-xmp:Rating=4", "-XMP-xmp:Label=Red",
         "-XMP-dc:Subject=holiday", "-XMP-dc:Subject=2023", "-XMP-lr:HierarchicalSubject=Places|Coast",
         "-XMP-dc:Description-de=Ein Hund am Strand", "-XMP-dc:Description=old text",
         "-XMP-dc:Creator=Ann", "-XMP-photoshop:City=Brest"],
        check=True,
    )  # fmt: skip
    before = exiftool(path)
    write_sidecar(path, "description", "A dog runs along the shore.")
    write_sidecar(path, "subject", ["dog", "Holiday"])
    after = exiftool(path)
    changed = {"XMP-dc:Description", "XMP-dc:Subject", "System:FileSize", "System:FileModifyDate",
               "System:FileAccessDate", "System:FileInodeChangeDate"}  # fmt: skip
    assert {k: v for k, v in after.items() if k not in changed} == {k: v for k, v in before.items() if k not in changed}
    assert after["XMP-dc:Description"] == "A dog runs along the shore."
    assert after["XMP-dc:Description-de"] == "Ein Hund am Strand"  # the other language stays
    assert after["XMP-dc:Subject"] == ["holiday", 2023, "dog"]  # keywords added, none lost (exiftool -j makes 2023 a number)
    assert exiv2(path)["Xmp.xmp.Rating"] == "4"


def test_a_file_that_is_not_xmp_is_left_alone(tmp_path):
    path = tmp_path / "photo.xmp"
    path.write_bytes(b"my own notes, not XML")
    with pytest.raises(InputError, match="not XMP"):
        write_sidecar(path, "alt", "text")
    assert path.read_bytes() == b"my own notes, not XML"
    path.write_text('<?xml version="1.0"?><notes>no rdf here</notes>')
    with pytest.raises(InputError, match="has no rdf:RDF"):
        write_sidecar(path, "alt", "text")


def test_merge_reads_back_its_own_values():
    data = merge(None, "alt", "first")
    data = merge(data, "alt", "second")
    assert read_field(data, "alt") == "second"
    assert data.count(b"AltTextAccessibility>") == 2  # one property (open + close tag), not two
    assert read_field(merge(data, "subject", ["a", "b"]), "subject") == ["a", "b"]
