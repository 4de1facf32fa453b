"""P3/P3b: `mcv batch` over a folder of photos, and what a preset's smaller pixel budget saves.

P3  `mcv batch PHOTOS --preset describe --output out.jsonl` (the real command,
    a subprocess) over 200 generated photos of 2-12 MP (JPEG q90, mixed
    aspect ratios and orientations), against the tests' Ollama stand-in (its
    own process) with a fixed latency per request (LATENCY s, held in one of
    2 parallel slots, as OLLAMA_NUM_PARALLEL=2) and the batch's default
    -j (read from OLLAMA_NUM_PARALLEL=2).

    The ideal is max(total prep / cores, total inference / slots): the
    preparation work spread over every core, or the inference spread over
    every slot, whichever takes longer; a batch cannot beat either. "Total
    prep" is the CPU seconds of the batch's own worker function (read, hash,
    decode, resize, encode: core/batch/prep.py `prepare_file`) run on every
    photo one after the other in this process, measured just before. The
    ratio is ideal / wall time of the whole command, start-up and the
    process pool's spawn included. Target >= 0.9.

    LATENCY is chosen so that the inference term is the larger one but the
    preparation is not negligible (about half of it at 2 cores): the batch must
    overlap the two to come near the ideal; done one after the other they
    would take ~1.5x the ideal.

P3b prompt tokens the in-process fallback (llama.cpp, a tiny random-weight
    MiniCPM-V 2.6 pair: 64 embeddings per slice, the real geometry) spends on
    the same 12 MP photo with `--preset caption` (0.6 MP budget: at most 4
    slices) against `--preset describe` (the full 1.8 MP budget: 9 slices),
    from `mcv ask --json` metrics. Ratio caption/describe; target <= 0.6
    (the image's embeddings halve, (1+4)*64 vs (1+9)*64; the text is a few
    dozen tokens either way).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import photos
from bench.standin_process import start_standin_script

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"
PHOTOS_FULL, PHOTOS_QUICK = 200, 40
LATENCY = 0.15  # seconds per request in the stand-in (see the docstring)
SLOTS = 2
SEED = 2024

_STANDIN_SCRIPT = """
import sys
sys.path.insert(0, sys.argv[1])
from support.ollama_standin import OllamaStandin

standin = OllamaStandin()
standin.fail_on_warnings = False
standin.num_parallel = int(sys.argv[2])
standin.add_model("minicpm-v", answer="A photo of soft coloured shapes on a gradient.", latency=float(sys.argv[3]))
print(standin.url, flush=True)
sys.stdin.read()  # until the parent closes our stdin
print(standin.scheduler.peak_running, flush=True)
standin.close()
"""


def _sizes(count: int) -> list[tuple[int, int]]:
    """2-12 MP, landscape and portrait, 4:3, 3:2 and 16:9: seeded, so every run has the same set."""
    rnd = random.Random(SEED)
    sizes = []
    for _ in range(count):
        megapixels = rnd.uniform(2.0, 12.0)
        aspect = rnd.choice((4 / 3, 3 / 2, 16 / 9))
        width = int((megapixels * 1e6 * aspect) ** 0.5)
        height = int(width / aspect)
        sizes.append((width, height) if rnd.random() < 0.75 else (height, width))
    return sizes


def photo_folder(count: int) -> Path:
    """The generated photos (made once, kept in bench/.work)."""
    return photos.photo_folder("p3-photos", _sizes(count), SEED)


def prep_seconds(folder: Path) -> float:
    """CPU seconds of the batch's worker function over every photo, one after the other."""
    from dataclasses import replace

    from mcv.core.batch.prep import prepare_file
    from mcv.core.images.types import PrepareSettings

    settings = replace(PrepareSettings(), pages="all")  # describe: the configured (full) budget
    total = 0.0
    for path in sorted(folder.glob("*.jpg")):
        result = prepare_file(str(path), path.name, True, settings)
        if result.error:
            raise RuntimeError(result.error)
        total += result.cpu_seconds
    return total


def _start_standin() -> tuple[subprocess.Popen, str]:
    proc, (url,) = start_standin_script(_STANDIN_SCRIPT, str(ROOT / "tests"), str(SLOTS), str(LATENCY))
    return proc, url


def _stop_standin(proc: subprocess.Popen) -> int:
    proc.stdin.close()
    peak = proc.stdout.readline().strip()
    proc.wait(timeout=30)
    return int(peak or 0)


def _environ(tmp: Path, url: str) -> dict[str, str]:
    return photos.clean_environ(
        tmp, OLLAMA_HOST=url, OLLAMA_NUM_PARALLEL=str(SLOTS), OLLAMA_MODELS=str(tmp / "models"), MCV_BACKEND="ollama"
    )


def run_p3(quick: bool) -> dict:
    count = PHOTOS_QUICK if quick else PHOTOS_FULL
    folder = photo_folder(count)
    prep = prep_seconds(folder)
    cores = os.cpu_count() or 1
    inference = count * LATENCY
    ideal = max(prep / cores, inference / SLOTS)
    proc, url = _start_standin()
    with tempfile.TemporaryDirectory(prefix="mcv-p3-") as tmp:
        out = Path(tmp) / "out.jsonl"
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "mcv", "batch", str(folder), "--preset", "describe", "--output", str(out), "-q"],
            env=_environ(Path(tmp), url),
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        peak = _stop_standin(proc)
        if result.returncode != 0:
            raise RuntimeError(f"mcv batch failed ({result.returncode}): {result.stderr}")
        records = [json.loads(line) for line in out.read_text().splitlines()]
    answered = sum(1 for r in records if r["error"] is None)
    if answered != count:
        raise RuntimeError(f"{answered} of {count} photos answered")
    ratio = ideal / wall
    return {
        "id": "P3",
        "what": f"batch {count} photos 2-12 MP, {LATENCY * 1000:.0f} ms x {SLOTS} slots",
        "ours": round(wall, 2),
        "peer": round(ideal, 2),
        "unit": "s (peer: ideal)",
        "ratio": round(ratio, 3),
        "target": ">= 0.9",
        "ok": ratio >= 0.9,
        "note": f"prep {prep:.1f} s CPU / {cores} cores = {prep / cores:.1f} s; inference {inference:.1f} s / "
        f"{SLOTS} = {inference / SLOTS:.1f} s (one after the other: {prep / cores + inference / SLOTS:.1f} s); "
        f"{peak} answered at once",
    }


def run_p3b() -> dict:
    sys.path.insert(0, str(ROOT / "tests"))
    from support.images import jpeg_bytes, make_photo

    from mcv.selftest.tinypair import write_pair

    pair = WORK / "p3b-pair-2.6"
    if not (pair / ".complete").exists():
        write_pair(pair, "2.6")
        (pair / ".complete").write_text("ok\n")
    llm = next(p for p in pair.glob("*.gguf") if not p.name.startswith("mmproj"))
    photo = WORK / "p3b-12mp.jpg"
    if not photo.exists():
        photo.write_bytes(jpeg_bytes(make_photo(4000, 3000, seed=SEED), quality=90))
    tokens = {}
    with tempfile.TemporaryDirectory(prefix="mcv-p3b-") as tmp:
        env = _environ(Path(tmp), "http://127.0.0.1:9")  # nothing there: the fallback answers
        env["MCV_BACKEND"] = "llama"
        for preset in ("caption", "describe"):
            result = subprocess.run(
                [sys.executable, "-m", "mcv", "ask", "-m", str(llm), str(photo), "--preset", preset,
                 "--json", "-o", "num_predict=1", "-o", "seed=1"],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            if result.returncode != 0:
                raise RuntimeError(f"mcv ask --preset {preset} failed: {result.stderr}")
            document = json.loads(result.stdout.splitlines()[-1]) if result.stdout.strip() else {}
            count = (document.get("metrics") or {}).get("prompt_eval_count")
            if not count:
                raise RuntimeError(f"no prompt token count for {preset}: {result.stdout} {result.stderr}")
            tokens[preset] = count
    ratio = tokens["caption"] / tokens["describe"]
    return {
        "id": "P3b",
        "what": "fallback prompt tokens, 12 MP photo: caption vs describe",
        "ours": tokens["caption"],
        "peer": tokens["describe"],
        "unit": "tokens",
        "ratio": round(ratio, 3),
        "target": "<= 0.6",
        "ok": ratio <= 0.6,
        "note": f"saves {tokens['describe'] - tokens['caption']} tokens of prefill per image (2x2 vs 3x3 slices)",
    }


def run(quick: bool = False) -> list[dict]:
    return [run_p3(quick), run_p3b()]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench.run import print_table

    print_table(run(quick="--quick" in sys.argv))
