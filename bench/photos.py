"""What the batch benches share: a folder of generated photos, and an environment of mcv's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "bench" / ".work"


def photo_folder(name: str, sizes: Sequence[tuple[int, int]], seed: int) -> Path:
    """photo000.jpg... of `sizes` (width, height), each seeded `seed + n`: made once, kept in
    bench/.work/NAME-COUNT-SEED (a folder left half-made is finished, not made again)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.images import jpeg_bytes, make_photo

    folder = WORK / f"{name}-{len(sizes)}-{seed}"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    for n, (width, height) in enumerate(sizes):
        path = folder / f"photo{n:03d}.jpg"
        if not path.exists():
            path.write_bytes(jpeg_bytes(make_photo(width, height, seed=seed + n), quality=90))
    marker.write_text("ok\n")
    return folder


def clean_environ(tmp: Path, **extra: str) -> dict[str, str]:
    """This environment without mcv's, Ollama's or OpenAI's settings; config and caches in `tmp`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MCV_", "OLLAMA_", "OPENAI_"))}
    env.update(MCV_CONFIG=str(tmp / "config.toml"), HF_HOME=str(tmp / "hf"), **extra)
    return env
