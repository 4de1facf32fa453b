"""`mcv model modelfile`: Modelfile text, and self-contained bundle folders."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from mcv.errors import UsageError
from mcv.modelfile import identify, render
from mcv.packaging import bundle
from mcv.packaging.digest import DigestCache

GENERATIONS = ["2.5", "2.6", "o-2.6", "4.0", "4.5", "4.6"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("generation", GENERATIONS)
def test_bundle_is_self_contained(tmp_path, tiny_pair_factory, generation):
    llm, mmproj = tiny_pair_factory(generation)
    pair = identify.validate_pair(llm, mmproj)
    out = tmp_path / "bundle"
    result = bundle.write_bundle(pair, out, cache=DigestCache(tmp_path / "d.json"))

    assert sorted(p.name for p in out.iterdir()) == sorted(["Modelfile", "SHA256SUMS", llm.name, mmproj.name])
    # Hard links on the same filesystem: no copy, same inode.
    assert os.path.samefile(out / llm.name, llm) and os.path.samefile(out / mmproj.name, mmproj)
    assert result.copied == []
    # SHA256SUMS is in sha256sum's format and verifies.
    assert (out / "SHA256SUMS").read_text() == f"{_sha(llm)}  {llm.name}\n{_sha(mmproj)}  {mmproj.name}\n"
    check = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    # The Modelfile is render's, with FROM lines pointing inside the folder.
    moved = identify.validate_pair(out / llm.name, out / mmproj.name)
    expected = render.modelfile_text(moved, relative_to=out)
    assert (out / "Modelfile").read_text() == expected
    assert f"FROM ./{llm.name}\n" in expected and f"FROM ./{mmproj.name}\n" in expected


def test_bundle_moves_anywhere(tmp_path, tiny_pair_25):
    pair = identify.validate_pair(*tiny_pair_25)
    bundle.write_bundle(pair, tmp_path / "a")
    (tmp_path / "a").rename(tmp_path / "elsewhere")
    moved = tmp_path / "elsewhere"
    for line in (moved / "Modelfile").read_text().splitlines():
        if line.startswith("FROM "):
            assert (moved / line.split(" ", 1)[1]).is_file()


def test_bundle_twice_changes_nothing(tmp_path, tiny_pair_25):
    pair = identify.validate_pair(*tiny_pair_25)
    bundle.write_bundle(pair, tmp_path / "b")
    before = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "b").iterdir()}
    again = bundle.write_bundle(pair, tmp_path / "b")
    assert again.written == [] and len(again.unchanged) == 4
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "b").iterdir()} == before


def test_bundle_keeps_a_different_file_unless_forced(tmp_path, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    pair = identify.validate_pair(llm, mmproj)
    out = tmp_path / "b"
    out.mkdir()
    stranger = out / llm.name
    stranger.write_bytes(b"someone else's file")
    with pytest.raises(UsageError, match="already exists with other contents"):
        bundle.write_bundle(pair, out)
    assert stranger.read_bytes() == b"someone else's file"
    assert sorted(p.name for p in out.iterdir()) == [llm.name]  # nothing else written either
    bundle.write_bundle(pair, out, force=True)
    assert _sha(out / llm.name) == _sha(llm)


def test_an_identical_copy_is_accepted(tmp_path, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    out = tmp_path / "b"
    out.mkdir()
    (out / llm.name).write_bytes(llm.read_bytes())  # a copy, not a link
    result = bundle.write_bundle(identify.validate_pair(llm, mmproj), out)
    assert out / llm.name in result.unchanged


def test_copy_when_links_are_impossible(tmp_path, tiny_pair_25, monkeypatch):
    def no_links(*args, **kwargs):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(bundle.os, "link", no_links)
    llm, mmproj = tiny_pair_25
    result = bundle.write_bundle(identify.validate_pair(llm, mmproj), tmp_path / "b")
    assert sorted(p.name for p in result.copied) == sorted([llm.name, mmproj.name])
    assert not os.path.samefile(tmp_path / "b" / llm.name, llm)
    assert _sha(tmp_path / "b" / llm.name) == _sha(llm)


def test_clashing_names_get_role_prefixes(tmp_path, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    a, b = tmp_path / "x" / "model.gguf", tmp_path / "y" / "model.gguf"
    os.link(llm, a)
    os.link(mmproj, b)
    bundle.write_bundle(identify.validate_pair(a, b), tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "Modelfile", "SHA256SUMS", "llm-model.gguf", "mmproj-model.gguf"
    ]


def test_plain_modelfile_points_back_at_the_files(tmp_path, tiny_pair_25):
    llm, mmproj = tiny_pair_25
    pair = identify.validate_pair(llm, mmproj)
    result = bundle.write_modelfile(pair, tmp_path / "mf")
    text = result.modelfile.read_text()
    assert text == render.modelfile_text(pair, relative_to=tmp_path / "mf")
    for line in text.splitlines():
        if line.startswith("FROM "):
            assert os.path.samefile((tmp_path / "mf" / line.split(" ", 1)[1]), llm if "ggml" in line else mmproj)
    result.modelfile.write_text("# mine\n")
    with pytest.raises(UsageError):
        bundle.write_modelfile(pair, tmp_path / "mf")
    assert result.modelfile.read_text() == "# mine\n"


def test_output_that_is_a_file_is_refused(tmp_path, tiny_pair_25):
    (tmp_path / "f").write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        bundle.write_modelfile(identify.validate_pair(*tiny_pair_25), tmp_path / "f")
