"""Sidecars never replace a file of the user's, keep their permissions, are never written
through a link, and are checked before the model is asked; odd things found while walking a
folder are skipped, not failures."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mcv.core.batch import BatchJob, ItemDone, run_batch
from mcv.core.presets import BUILT_IN
from mcv.core.settings import Settings
from support.images import jpeg_bytes, make_photo

TAKEOUT = '{"title": "IMG_0001.jpg", "photoTakenTime": {"timestamp": "1700000000"}, "geoData": {"latitude": 48.1}}\n'


@pytest.fixture
def environ(mcv_env, ollama_standin):
    ollama_standin.add_model("minicpm-v", answer="A photo.")
    return {**mcv_env, "OLLAMA_HOST": ollama_standin.url, "MCV_BACKEND": "ollama"}


@pytest.fixture
def folder(tmp_path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for n in range(2):
        (folder / f"p{n}.jpg").write_bytes(jpeg_bytes(make_photo(320, 240, seed=n)))
    return folder


def run(environ, job: BatchJob) -> list:
    job.retry_delays = (0.01,)
    return list(run_batch(Settings.load(environ), job))


def records_of(events) -> dict[str, object]:
    return {Path(e.record.path).name: e.record for e in events if isinstance(e, ItemDone)}


def test_a_json_file_mcv_did_not_write_is_left_alone(environ, ollama_standin, folder):
    takeout = folder / "p0.jpg.json"  # what Google Takeout leaves beside every photo
    takeout.write_text(TAKEOUT)
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], sidecar="json"))
    records = records_of(events)
    assert takeout.read_text() == TAKEOUT
    assert records["p0.jpg"].error == (
        f"{folder / 'p0.jpg'}: not asked: its sidecar {takeout} exists and mcv did not write it (--overwrite replaces it)"
    )
    assert len(ollama_standin.requests_to("/api/chat")) == 1  # the refused one was not asked
    assert json.loads((folder / "p1.jpg.json").read_text())["answer"] == "A photo."
    # mcv's own .json is replaced when the image is answered again; --overwrite replaces the user's
    ollama_standin.find("minicpm-v").answer = "Another photo."
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], sidecar="json", overwrite=True))
    assert all(r.answered for r in records_of(events).values())
    for name in ("p0.jpg.json", "p1.jpg.json"):
        assert json.loads((folder / name).read_text())["answer"] == "Another photo."


def test_a_txt_file_is_replaced_only_when_mcv_wrote_what_it_holds(environ, ollama_standin, folder, tmp_path):
    ledger = tmp_path / "state" / "sidecars"
    mine = folder / "p0.jpg.txt"
    mine.write_text("my own notes about this photo\n")
    job = dict(preset=BUILT_IN["alt"], sidecar="txt", ledger=ledger)
    events = run(environ, BatchJob([str(folder)], **job))
    assert mine.read_text() == "my own notes about this photo\n"
    assert "exists and mcv did not write it" in records_of(events)["p0.jpg"].error
    assert (folder / "p1.jpg.txt").read_text() == "A photo.\n"
    ollama_standin.find("minicpm-v").answer = "Second answer."
    events = run(environ, BatchJob([str(folder / "p1.jpg")], **job))  # mcv's own: replaced
    assert records_of(events)["p1.jpg"].answered and (folder / "p1.jpg.txt").read_text() == "Second answer.\n"
    (folder / "p1.jpg.txt").write_text("Second answer, corrected by hand.\n")  # edited: the user's now
    events = run(environ, BatchJob([str(folder / "p1.jpg")], **job))
    assert not records_of(events)["p1.jpg"].answered
    assert (folder / "p1.jpg.txt").read_text() == "Second answer, corrected by hand.\n"


def test_a_merged_sidecar_keeps_its_mode(environ, folder):
    xmp = folder / "p0.xmp"
    xmp.write_text(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,8.5N"/>'
        "</rdf:RDF></x:xmpmeta>"
    )
    xmp.chmod(0o640)  # GPS positions: not for everyone
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], xmp=True))
    assert all(r.answered for r in records_of(events).values())
    assert stat.S_IMODE(xmp.stat().st_mode) == 0o640 and "A photo." in xmp.read_text()
    assert "GPSLatitude" in xmp.read_text()
    assert stat.S_IMODE((folder / "p1.xmp").stat().st_mode) == 0o666 & ~_umask()  # new: the usual mode


@pytest.mark.parametrize("kind", ["xmp", "txt", "json"])
def test_a_sidecar_that_is_a_symbolic_link_is_never_written_through(environ, ollama_standin, folder, tmp_path, kind):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    precious = elsewhere / "precious"  # a link planted beside a photo (an unpacked archive) points here
    content = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>'
        "</x:xmpmeta>"
    )  # valid XMP: it would be merged into, were the link followed
    precious.write_text(content)
    link = folder / ("p0.xmp" if kind == "xmp" else f"p0.jpg.{kind}")
    link.symlink_to(precious)
    job = dict(xmp=True) if kind == "xmp" else dict(sidecar=kind, overwrite=True)  # even with --overwrite
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], **job))
    records = records_of(events)
    assert records["p0.jpg"].error == (
        f"{folder / 'p0.jpg'}: not asked: its sidecar {link} is a symbolic link "
        "(left as it is: mcv does not write through links)"
    )
    assert precious.read_text() == content and link.is_symlink() and os.readlink(link) == str(precious)
    assert records["p1.jpg"].answered and len(ollama_standin.requests_to("/api/chat")) == 1


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_an_unwritable_folder_is_found_before_asking(environ, ollama_standin, folder):
    folder.chmod(0o555)
    try:
        events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], xmp=True))
    finally:
        folder.chmod(0o755)
    assert all("not asked" in r.error and "is not writable" in r.error for r in records_of(events).values())
    assert ollama_standin.requests_to("/api/chat") == []


def test_a_read_only_sidecar_and_a_name_clash_are_found_before_asking(environ, ollama_standin, folder):
    (folder / "p0.png").write_bytes(jpeg_bytes(make_photo(320, 240, seed=7)))  # p0.jpg and p0.png: both p0.xmp
    mine = folder / "p1.jpg.txt"
    mine.write_text("keep\n")
    mine.chmod(0o444)
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], xmp=True, sidecar="txt", overwrite=True))
    records = records_of(events)
    assert "not asked: its XMP sidecar is also" in records["p0.png"].error
    assert records["p1.jpg"].error.endswith(f"not asked: its sidecar {mine} is read-only (left as it is)")
    assert mine.read_text() == "keep\n"
    assert records["p0.jpg"].answered
    assert len(ollama_standin.requests_to("/api/chat")) == 1  # p0.jpg only


def test_broken_links_fifos_and_link_loops_in_a_folder_are_skipped(environ, folder):
    (folder / "gone.jpg").symlink_to(folder / "deleted.jpg")
    os.mkfifo(folder / "pipe.jpg")
    (folder / "loop.jpg").symlink_to(folder / "loop.jpg")
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"]))
    records = records_of(events)
    assert records["gone.jpg"].skipped and records["gone.jpg"].error.endswith("a broken symbolic link (its target is gone)")
    assert records["pipe.jpg"].skipped and records["pipe.jpg"].error.endswith("a named pipe (FIFO), not a file to read")
    assert records["loop.jpg"].skipped and records["loop.jpg"].error.endswith("a symbolic link loop")
    assert events[-1].tally.failed == 0 and events[-1].tally.skipped == 3 and events[-1].tally.answered == 2
    assert events[-1].tally.total == 5  # a skipped file counts in the total too: the bar ends at 5/5
    # named on the command line, the same is a failure
    events = run(environ, BatchJob([str(folder / "pipe.jpg")], preset=BUILT_IN["alt"]))
    assert events[-1].tally.failed == 1


def test_linked_folders_are_reported_not_followed_and_an_unlistable_folder_is_a_failure(
    environ, folder, tmp_path, monkeypatch
):
    (folder / "up").symlink_to(folder)  # a loop: followed, the walk would never end
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.jpg").write_bytes(jpeg_bytes(make_photo(320, 240, seed=5)))
    (folder / "library").symlink_to(elsewhere)
    (folder / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path="."):  # what an unreadable folder does to a user who is not root
        if os.fspath(path) == str(folder / "locked"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"]))
    records = records_of(events)
    for name in ("up", "library"):
        assert records[name].skipped and records[name].error == (
            f"{folder / name}: a symbolic link to a folder, not followed (name the folder itself to include it)"
        )
    assert not records["locked"].skipped
    assert records["locked"].error == f"{folder / 'locked'}: cannot list the folder (Permission denied)"
    assert "x.jpg" not in records and records["p0.jpg"].answered and records["p1.jpg"].answered
    assert events[-1].tally.skipped == 2 and events[-1].tally.failed == 1 and events[-1].tally.answered == 2


def test_a_sidecar_of_a_name_that_is_not_utf8_is_named_escaped_in_messages(environ, folder):
    name = os.path.join(os.fsencode(folder), b"caf\xe9.jpg")
    with open(name, "wb") as handle:
        handle.write(jpeg_bytes(make_photo(320, 240, seed=9)))
    with open(name + b".txt", "wb") as handle:
        handle.write(b"my notes\n")  # the user's own: refused, and the refusal names it
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], sidecar="txt"))
    (refused,) = [r for r in records_of(events).values() if not r.answered]
    assert refused.path_escaped and refused.error.endswith(
        f"not asked: its sidecar {folder}/caf\\xe9.jpg.txt exists and mcv did not write it (--overwrite replaces it)"
    )
    refused.error.encode("utf-8")  # valid text: JSON, CSV and the terminal take it as it is
    with open(name + b".txt", "rb") as handle:
        assert handle.read() == b"my notes\n"


@pytest.mark.timeout(60)
def test_resuming_beside_a_fifo_or_a_link_to_a_device_does_not_hang(environ, ollama_standin, folder, tmp_path):
    out = tmp_path / "out.jsonl"
    run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], output=out))
    os.mkfifo(folder / "p0.xmp")  # read, it would wait for a writer forever
    (folder / "p1.xmp").symlink_to("/dev/zero")  # read, it would never end
    events = run(environ, BatchJob([str(folder)], preset=BUILT_IN["alt"], output=out, resume=True, xmp=True))
    records = records_of(events)
    assert records["p0.jpg"].error.endswith(f"its sidecar {folder / 'p0.xmp'} exists and is not a file")
    assert records["p1.jpg"].error.endswith("is a symbolic link (left as it is: mcv does not write through links)")
    assert len(ollama_standin.requests_to("/api/chat")) == 2  # answered once, in the first run
