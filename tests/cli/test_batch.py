"""`mcv batch` end to end against the strict Ollama stand-in: hostile folders, a batch killed
half-way and resumed (real subprocesses), XMP sidecars read back by exiftool and exiv2 with
the originals untouched, output formats and progress."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mcv.cli.env import Environment
from mcv.cli.main import run
from support.cli import run_mcv
from support.images import hostile_files, jpeg_bytes, make_photo, png_bytes

needs_tools = pytest.mark.skipif(
    not (shutil.which("exiftool") and shutil.which("exiv2")),
    reason="needs exiftool and exiv2 (apt-get install libimage-exiftool-perl exiv2)",
)


@pytest.fixture
def daemon(ollama_standin, mcv_env):
    ollama_standin.add_model("minicpm-v", answer="Soft coloured shapes on a gradient.")
    mcv_env["OLLAMA_HOST"] = ollama_standin.url
    mcv_env["MCV_BACKEND"] = "ollama"
    return ollama_standin, mcv_env


def make_photos(folder: Path, count: int, *, size=(800, 600)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"photo{n:02d}.jpg"
        path.write_bytes(jpeg_bytes(make_photo(*size, seed=n)))
        paths.append(path)
    return paths


def digests(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file's sha256 and mtime: what 'originals untouched' means."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mcv_process(args, env, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mcv", *args], env=env, text=True, **kwargs)


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- a folder with hostile files mixed in ---------------------------------------------------------


def without_read_override() -> list[str]:
    """Root reads a chmod-000 file anyway (CAP_DAC_OVERRIDE); drop that capability for the
    subprocess so `unreadable` really is unreadable, or say the test cannot run."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root: chmod 000 does not stop root, and setpriv (util-linux) is missing")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--"]


def test_hostile_files_fail_alone_and_are_listed_with_reasons(daemon, tmp_path):
    standin, env = daemon
    folder = tmp_path / "mixed"
    good = make_photos(folder, 2) + make_photos(folder / "deeper", 1)
    (tmp_path / "hostile").mkdir()
    bad = hostile_files(tmp_path / "hostile")
    chosen = {
        "truncated_jpeg": "broken.jpg",
        "png_header_bomb": "bomb-header.png",
        "png_deflate_bomb": "bomb-deflate.png",
        "jpeg_header_bomb": "bomb.jpg",
        "zero_bytes": "empty.jpg",
        "text_as_jpg": "letter.jpg",
    }
    for key, name in chosen.items():
        shutil.copy(bad[key], folder / name)
    unreadable = folder / "secret.jpg"
    unreadable.write_bytes(good[0].read_bytes()[::-1] + good[0].read_bytes())  # no matter: it cannot be read
    unreadable.chmod(0)
    try:
        proc = subprocess.run(
            [*without_read_override(), sys.executable, "-m", "mcv", "batch", str(folder), "--preset", "caption"],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        unreadable.chmod(0o644)
    assert proc.returncode == 3, proc.stderr  # some failed
    records = {str(Path(r["path"]).relative_to(folder)): r for r in map(json.loads, proc.stdout.splitlines())}
    good_names = [str(p.relative_to(folder)) for p in good]
    assert sorted(records) == sorted(good_names + list(chosen.values()) + ["secret.jpg"])
    for name in good_names:
        assert records[name]["answer"] == "Soft coloured shapes on a gradient." and records[name]["error"] is None
    reasons = {name: records[name]["error"].removeprefix(str(folder / name) + ": ") for name in records if records[name]["error"]}
    assert reasons["secret.jpg"] == "permission denied"
    assert reasons["letter.jpg"] == "text, not an image" and records["letter.jpg"]["skipped"] is True
    assert reasons["empty.jpg"] == "empty (0 bytes)"
    assert "truncated" in reasons["broken.jpg"] or "damaged" in reasons["broken.jpg"]
    for bomb in ("bomb-header.png", "bomb-deflate.png"):  # refused before a pixel is allocated
        assert reasons[bomb].endswith("MP, over the 250 MP decoding limit"), reasons[bomb]
    # A JPEG claiming 65000x65000 decodes at 1/8 scale (66 MP, within the limit), shrinks, and is answered.
    assert records["bomb.jpg"]["error"] is None
    # stderr: a line per file, then the summary and every failure with its reason
    summary = proc.stderr[proc.stderr.index("mcv: 4 answered"):]
    assert summary.startswith("mcv: 4 answered, 5 failed, 1 skipped (not images) in ")
    listed = summary.split("mcv: failed:\n", 1)[1].splitlines()
    assert sorted(Path(line.strip().split(": ")[0]).name for line in listed) == sorted(set(reasons) - {"letter.jpg"})
    assert "Traceback" not in proc.stderr
    assert len(standin.requests_to("/api/chat")) == 4


# --- killed half-way, then --resume -----------------------------------------------------------------


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_batch_resumes_without_answering_twice_or_losing_one(daemon, tmp_path, how):
    standin, env = daemon
    model = standin.find("minicpm-v")
    model.latency = 0.15
    answered = []
    stopping = [True]

    def answer(request):
        answered.append(1)
        if len(answered) >= 4 and stopping[0]:
            model.latency = 30.0  # from now on an answer is still in flight when the batch is stopped
        return "Soft coloured shapes on a gradient."

    model.answer = answer
    standin.num_parallel = 1
    photos = make_photos(tmp_path / "photos", 12)
    out = tmp_path / "out.jsonl"
    args = ["batch", str(tmp_path / "photos"), "--preset", "caption", "--output", str(out), "-q"]
    proc = mcv_process(args, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not out.exists() or len(out.read_text().splitlines()) < 4):
        time.sleep(0.02)
    workers = children_of(proc.pid)
    assert workers  # the preparing processes (and multiprocessing's resource tracker)
    proc.send_signal(how)
    _, stderr = proc.communicate(timeout=30)
    if how == signal.SIGTERM:
        assert proc.returncode == 130 and "interrupted; what was answered is kept" in stderr
    else:
        assert proc.returncode == -signal.SIGKILL
    # The answer in flight was cut: the daemon saw its client go (and stops generating).
    assert standin.wait_for(lambda: any(r.cancelled for r in standin.requests_to("/api/chat")), timeout=5)
    first = jsonl(out)  # every line whole, even after SIGKILL
    assert 4 <= len(first) < 12
    deadline = time.monotonic() + 5  # the preparing workers leave with their parent
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.05)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)]

    stopping[0], model.latency = False, 0.15
    resumed = mcv_process([*args, "--resume"], env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, stderr
    records = jsonl(out)
    answered = [r["sha256"] for r in records if r["error"] is None]
    expected = {hashlib.sha256(p.read_bytes()).hexdigest() for p in photos}
    assert sorted(answered) == sorted(expected)  # none lost, none answered twice
    assert f"{len(first)} answered before (--resume)" in stderr


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


# --- XMP sidecars -----------------------------------------------------------------------------------


@needs_tools
@pytest.mark.parametrize("naming, sidecar", [("stem", "{stem}.xmp"), ("full", "{name}.xmp")])
def test_alt_text_into_xmp_sidecars_originals_untouched(daemon, tmp_path, naming, sidecar):
    standin, env = daemon
    standin.find("minicpm-v").answer = "Coloured ellipses blur into a soft gradient."
    folder = tmp_path / "photos"
    make_photos(folder, 3)
    (folder / "album").mkdir()
    (folder / "album" / "shot.png").write_bytes(png_bytes(make_photo(640, 480, seed=7)))
    before = digests(folder)
    result = run_mcv(["batch", str(folder), "--preset", "alt", "--xmp", "--xmp-name", naming], environ=env)
    assert result.exit_code == 0, result.stderr
    images = [folder / name for name in before]
    for image in images:
        xmp = image.with_name(sidecar.format(stem=image.stem, name=image.name))
        out = subprocess.run(["exiftool", "-j", "-XMP-iptcCore:AltTextAccessibility", str(xmp)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        assert json.loads(out.stdout)[0]["AltTextAccessibility"] == "Coloured ellipses blur into a soft gradient."
        shown = subprocess.run(["exiv2", "-PXkv", str(xmp)], capture_output=True, text=True).stdout
        keys = dict(line.split(None, 1) for line in shown.splitlines())
        assert keys["Xmp.iptc.AltTextAccessibility"] == 'lang="x-default" Coloured ellipses blur into a soft gradient.'
    after = digests(folder)
    assert {k: v for k, v in after.items() if not k.endswith(".xmp")} == before  # byte-identical, mtimes too
    assert len([k for k in after if k.endswith(".xmp")]) == len(images)  # one sidecar per image


@needs_tools
def test_an_existing_sidecar_keeps_its_fields(daemon, tmp_path):
    standin, env = daemon
    standin.find("minicpm-v").answer = '["gradient", "shapes"]'
    folder = tmp_path / "photos"
    (photo,) = make_photos(folder, 1)
    xmp = folder / "photo00.xmp"
    subprocess.run(["exiftool", "-q", "-o", str(xmp), "-XMP-xmp:Rating=5", "-XMP-dc:Subject=family",
                    "-XMP-dc:Title=Sunday", "-XMP-digiKam:TagsList=People/Ann"], check=True)  # fmt: skip
    result = run_mcv(["batch", str(folder), "--preset", "tags", "--xmp"], environ=env)
    assert result.exit_code == 0, result.stderr
    tags = json.loads(subprocess.run(["exiftool", "-j", str(xmp)], capture_output=True, text=True).stdout)[0]
    assert tags["Subject"] == ["family", "gradient", "shapes"]
    assert (tags["Rating"], tags["Title"], tags["TagsList"]) == (5, "Sunday", "People/Ann")


# --- output, progress, usage ------------------------------------------------------------------------


def test_records_on_stdout_progress_lines_on_stderr(daemon, tmp_path):
    standin, env = daemon
    make_photos(tmp_path / "p", 2)
    result = run_mcv(["batch", str(tmp_path / "p"), "--prompt", "what is it", "--csv"], environ=env)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("path,page,sha256,answer,data,error") and len(lines) == 3
    err = result.stderr.splitlines()
    assert err[0].startswith(f"mcv: 2 files; asking Ollama at {standin.url} (2 at once); preparing in ")
    assert sorted(line.split("] ")[1] for line in err[1:3]) == [
        f"{tmp_path / 'p' / 'photo00.jpg'} ok", f"{tmp_path / 'p' / 'photo01.jpg'} ok"
    ]
    assert err[3].startswith("mcv: 2 answered in ")
    assert standin.requests_to("/api/chat")[0].json["messages"][-1]["content"] == "[img]\nwhat is it"


def test_a_terminal_gets_a_progress_bar(daemon, tmp_path):
    standin, env = daemon
    make_photos(tmp_path / "p", 3)
    stderr = io.StringIO()
    stderr.isatty = lambda: True  # type: ignore[method-assign]
    terminal = Environment(stdin=io.BytesIO(), stdout=io.StringIO(), stderr=stderr, stdin_isatty=False,
                           stdout_isatty=False, stderr_isatty=True, environ=env, width=100)  # fmt: skip
    code = run(["batch", str(tmp_path / "p"), "--preset", "caption", "--output", str(tmp_path / "o.jsonl")], terminal)
    assert code == 0
    shown = stderr.getvalue()
    assert "3/3" in shown and "━" in shown  # rich's bar, done/total
    assert "mcv: 3 answered in " in shown


@pytest.mark.parametrize(
    "args, message",
    [
        (["batch", "{photos}"], "say what to ask: --preset NAME or --prompt TEXT"),
        (["batch", "{photos}", "-p", "caption", "--resume"], "--resume needs --output FILE"),
        (["batch", "{photos}", "-p", "ocr", "--xmp"], "preset 'ocr' has no XMP field to write"),
        (["batch", "{photos}/nope", "-p", "caption"], "no such file or folder"),
        (["batch", "{photos}", "-p", "caption", "--output", "{existing}"], "already holds results"),
        (["batch", "{photos}", "-p", "caption", "--sidecar", "yaml"], "Invalid value for --sidecar"),
        (["batch", "{photos}", "-p", "recipe"], "no preset called 'recipe'"),
        (["batch", "{photos}", "-p", "caption", "--schema", ""], "--schema is empty"),  # not silently none
        (["batch", "{photos}", "-p", "caption", "--schema", "a, a int"], "field 'a' is given twice"),
    ],
)
def test_usage_errors_are_exit_2_before_anything_is_asked(daemon, tmp_path, args, message):
    standin, env = daemon
    make_photos(tmp_path / "photos", 1)
    existing = tmp_path / "old.jsonl"
    existing.write_text('{"path": "x", "sha256": null}\n')
    filled = [a.format(photos=tmp_path / "photos", existing=existing) for a in args]
    result = run_mcv(filled, environ=env)
    assert result.exit_code == 2, result.stderr
    assert message in result.stderr
    assert standin.requests_to("/api/chat") == []
    assert existing.read_text() == '{"path": "x", "sha256": null}\n'
