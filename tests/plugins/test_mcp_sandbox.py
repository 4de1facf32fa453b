"""The MCP sandbox on its own: which paths a tool may read, and what is refused before a byte is read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mcv.errors import InputError
from mcv.plugins.mcp.sandbox import Sandbox, allowed_from_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def root(tmp_path):
    work = tmp_path / "work"
    (work / "sub").mkdir(parents=True)
    (work / "sub" / "a.png").write_bytes(PNG)
    (tmp_path / "outside.png").write_bytes(PNG)
    return work


def refused(sandbox: Sandbox, path: str) -> str:
    with pytest.raises(InputError) as caught:
        sandbox.read(path)
    return caught.value.message


def test_reads_inside_a_root_relative_or_absolute(root):
    sandbox = Sandbox.from_folders(str(root), [])
    assert sandbox.read("sub/a.png").value == PNG
    assert sandbox.read(str(root / "sub" / "a.png")).label == "a.png"
    (root / "inner-link.png").symlink_to(root / "sub" / "a.png")  # a symlink that stays inside is fine
    assert sandbox.read("inner-link.png").value == PNG


def test_escapes(root, tmp_path):
    sandbox = Sandbox.from_folders(str(root), [])
    (root / "out.png").symlink_to(tmp_path / "outside.png")
    (root / "loop.png").symlink_to(root / "loop.png")
    os.mkfifo(root / "fifo.png")
    assert "'..'" in refused(sandbox, "sub/../sub/a.png")
    assert "'..'" in refused(sandbox, "sub\\..\\..\\outside.png")
    assert "through a symlink" in refused(sandbox, "out.png")
    assert "outside the allowed folders" in refused(sandbox, str(tmp_path / "outside.png"))
    assert "URLs are not fetched" in refused(sandbox, "data:image/png;base64,AAAA")
    assert "URLs are not fetched" in refused(sandbox, "HTTP://example.com/a.png")
    assert "not a regular file" in refused(sandbox, "fifo.png")  # opened without blocking, then refused
    assert "is empty" in refused(sandbox, "  ")
    assert "NUL" in refused(sandbox, "a\x00.png")
    assert refused(sandbox, "loop.png")  # a symlink loop is one line, not a crash
    assert "not a regular file" in refused(sandbox, "sub")


def test_size_and_magic_bytes(root):
    sandbox = Sandbox.from_folders(str(root), [], max_bytes=100)
    (root / "big.png").write_bytes(PNG + b"\x00" * 100)
    (root / "text.png").write_text("hello, not an image")
    (root / "doc.pdf").write_bytes(b"%PDF-1.7\n")
    assert "over the 100 bytes limit" in refused(sandbox, "big.png")
    assert "not an image" in refused(sandbox, "text.png")
    assert "not an image" in refused(sandbox, "doc.pdf")  # image tools: no PDF


def test_a_working_folder_of_slash_is_no_root(tmp_path, root):
    assert Sandbox.from_folders("/", []).roots == ()
    assert "no folder is allowed" in refused(Sandbox.from_folders("/", []), "/etc/hostname")
    sandbox = Sandbox.from_folders("/", [str(root)])
    assert sandbox.roots == (Path(os.path.realpath(root)),)
    assert sandbox.read("sub/a.png").value == PNG  # relative to the first allowed folder
    with pytest.raises(InputError, match="not a folder"):
        Sandbox.from_folders(str(root), [str(tmp_path / "missing")])


def test_config_value_is_split_like_path():
    assert allowed_from_config(f"/a{os.pathsep}/b c{os.pathsep}") == ["/a", "/b c"]
    assert allowed_from_config(None) == []


def test_a_folder_swapped_for_a_symlink_after_the_check_is_not_followed(root, tmp_path, monkeypatch):
    """The race between the check and the open: `sub` becomes a symlink out of the root once
    `resolve` has looked. The open walks down from the root following no symlink, so the file
    outside is never read (checking the path again after opening would follow the same symlink)."""
    outside = tmp_path / "secrets"
    outside.mkdir()
    (outside / "a.png").write_bytes(PNG + b"secret")
    sandbox = Sandbox.from_folders(str(root), [])
    checked = Sandbox.resolve

    def resolve_then_swap(self, given):
        real = checked(self, given)
        (root / "sub").rename(root / "sub-before")
        (root / "sub").symlink_to(outside)
        return real

    monkeypatch.setattr(Sandbox, "resolve", resolve_then_swap)
    assert "changed while it was being opened" in refused(sandbox, "sub/a.png")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="the opened file's path is known through /proc")
def test_a_folder_moved_out_after_the_open_is_refused(root, tmp_path, monkeypatch):
    sandbox = Sandbox.from_folders(str(root), [])
    opening = Sandbox._open

    def open_then_move(self, real):
        fd = opening(self, real)
        (root / "sub").rename(tmp_path / "moved-out")
        return fd

    monkeypatch.setattr(Sandbox, "_open", open_then_move)
    assert "moved out of the allowed folders" in refused(sandbox, "sub/a.png")
