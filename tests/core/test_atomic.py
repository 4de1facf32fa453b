"""Atomic file replacement (core/atomic.py): long names, and files that belong to the user
(sidecars) keeping their permissions, and never written through a symbolic link."""

from __future__ import annotations

import errno
import os
import stat

import pytest

from mcv.core.atomic import replace_atomically, write_atomically


def test_a_name_near_the_filesystem_limit_can_be_replaced(tmp_path):
    target = tmp_path / ("p" * 240 + ".jpg.xmp")  # 248 bytes: the temporary file must not be longer
    target.write_text("old")
    write_atomically(target, "new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == [target.name]  # no temporary file left


def test_keep_keeps_the_permission_bits_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "photo.xmp"
    target.write_text("old")
    target.chmod(0o640)  # a sidecar may hold GPS positions: not for everyone's eyes
    write_atomically(target, "new", keep=True)
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    umask = os.umask(0o022)
    try:
        write_atomically(tmp_path / "fresh.xmp", "made", keep=True)  # a new file: the umask decides, as always
    finally:
        os.umask(umask)
    assert (tmp_path / "fresh.xmp").read_text() == "made"
    assert stat.S_IMODE((tmp_path / "fresh.xmp").stat().st_mode) == 0o644  # not a temporary file's 0600


def test_keep_refuses_a_symbolic_link_and_leaves_both_ends(tmp_path):
    (tmp_path / "store").mkdir()
    precious = tmp_path / "store" / "notes.txt"  # what a link planted beside a photo points to
    precious.write_text("precious")
    link = tmp_path / "photo.jpg.txt"
    link.symlink_to(precious)
    with pytest.raises(OSError) as info:
        write_atomically(link, "new", keep=True)
    assert info.value.errno == errno.ELOOP and "symbolic link" in info.value.strerror
    assert link.is_symlink() and os.readlink(link) == str(precious)
    assert precious.read_text() == "precious"
    assert sorted(os.listdir(tmp_path)) == ["photo.jpg.txt", "store"]  # no temporary file left


def test_a_failed_fill_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "a.txt"
    target.write_text("old")

    def fill(tmp):
        tmp.write_text("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        replace_atomically(target, fill)
    assert target.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]
