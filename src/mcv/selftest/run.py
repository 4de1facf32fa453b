"""Offline end-to-end check of the in-process backend (used by `mcv doctor`).

Writes a tiny random-weight 2.5 pair into a temp folder, asks one question
about one generated image through the core session (the pair's path as the
model, the in-process backend), and reports what happened.
Run it as a subprocess (`python -m mcv.selftest.run`): a
broken llama.cpp build can abort the process, and the doctor must still be
able to say so. Prints one JSON object on stdout.
"""

from __future__ import annotations

import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SELFTEST_GENERATION = "2.5"
SELFTEST_IMAGE_SIZE = (640, 480)


def sample_image(width: int = SELFTEST_IMAGE_SIZE[0], height: int = SELFTEST_IMAGE_SIZE[1], *, seed: int = 0):
    """A deterministic picture (shapes placed by `seed`), JPEG-encoded like a prepared image."""
    import random

    from PIL import Image, ImageDraw

    from mcv.core.images.types import PreparedImage

    rng = random.Random(seed)
    picture = Image.new("RGB", (width, height), (235, 235, 230))
    draw = ImageDraw.Draw(picture)
    for _ in range(6):
        x, y = rng.randrange(width), rng.randrange(height)
        size = rng.randrange(20, max(21, min(width, height) // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        draw.rectangle((x, y, x + size, y + size), fill=colour)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=90)
    return PreparedImage(buffer.getvalue(), "image/jpeg", width, height, width, height, f"sample-{seed}.jpg")


def run_selftest(directory: Path | None = None) -> dict[str, Any]:
    """Run the check in this process, through the same core session every surface uses; returns {"ok", "detail", ...}."""
    import os

    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.modelfile import generations
    from mcv.selftest.tinypair import write_pair

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mcv-selftest-") as scratch:
        llm, _ = write_pair(Path(directory or scratch), SELFTEST_GENERATION)
        generation = generations.get(SELFTEST_GENERATION)
        # The user's config stays out of it: the check is of the engine, not of their settings.
        environ = {**os.environ, "MCV_CONFIG": str(Path(scratch) / "no-config.toml")}
        settings = Settings.load(environ, flags={"model": str(llm), "backend": "llama", "llama.n_ctx": 2048})
        with Session(settings) as session:
            session.parameters = session.parameters.merged(options={"temperature": 0, "num_predict": 8, "seed": 1})
            done = session.ask([sample_image()], "What is in this picture?").result()
    metrics = done.metrics
    image_tokens = (metrics.prompt_eval_count or 0) if metrics else 0
    ok = bool(metrics and image_tokens >= generation.tokens_per_slice)
    return {
        "ok": ok,
        "generation": SELFTEST_GENERATION,
        "prompt_tokens": image_tokens,
        "generated_tokens": metrics.eval_count if metrics else None,
        "seconds": round(time.perf_counter() - started, 3),
        "detail": (
            f"tiny {SELFTEST_GENERATION} pair answered about one image "
            f"({image_tokens} prompt tokens) in {time.perf_counter() - started:.2f} s"
            if ok
            else f"the tiny pair did not answer as expected ({done})"
        ),
    }


def main() -> int:
    try:
        result = run_selftest()
    except ModuleNotFoundError as err:  # llama-cpp-python came without mcv's `local` extra
        result = {"ok": False, "detail": f"the self-test needs {err.name}: pip install 'mcv[local]'"}
    except Exception as err:  # reported to the doctor, not raised: it prints the line
        result = {"ok": False, "detail": f"{type(err).__name__}: {err}"}
    sys.stdout.write(json.dumps(result) + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
