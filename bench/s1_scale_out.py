"""S1: `mcv batch` spread over two OpenAI-compatible endpoints against one (issue 12: scaling out).

`mcv batch PHOTOS --preset caption --backend openai --base-url URL [--base-url URL2]` (the real
command, a subprocess) over small generated photos, against the tests' strict OpenAI stand-in
(its own process), each endpoint answering one request at a time with the same fixed latency
(LATENCY s per answer: a GPU server with one slot). The batch's default -j comes from the
endpoints' slots (one each, plus one queued at each).

The peer is the same batch against one endpoint: what a user without several endpoints runs.
Throughput is answered images per second from the first request the servers received to the
last answer they sent (the steady state; start-up is in the note's wall times). Ratio
two/one; target >= 1.8 (2.0 is perfect spreading).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import photos
from bench.standin_process import start_standin_script

ROOT = Path(__file__).resolve().parents[1]
PHOTOS_FULL, PHOTOS_QUICK = 120, 40
LATENCY = 0.1  # seconds each answer holds its endpoint's one slot
SEED = 1212

_STANDIN_SCRIPT = """
import json, sys
sys.path.insert(0, sys.argv[1])
from support.openai_standin import OpenAIStandin

servers = [OpenAIStandin(slots=1, latency=float(sys.argv[3])) for _ in range(int(sys.argv[2]))]
for server in servers:
    server.add_model("minicpm-v", answer="Soft coloured shapes on a gradient.")
print(" ".join(server.url for server in servers), flush=True)
sys.stdin.read()  # until the parent closes our stdin
chats = [r for server in servers for r in server.chats()]
done = [r.answered_at for r in chats if r.answered_at is not None]
print(json.dumps({
    "answered": [server.answered for server in servers],
    "peak": [server.peak_running for server in servers],
    "span": (max(done) - min(r.received_at for r in chats)) if done else 0.0,
    "errors": [e for server in servers for e in server.internal_errors],
}), flush=True)
for server in servers:
    server.stop()
"""


def photo_folder(count: int) -> Path:
    """Small generated photos (made once): preparing them costs little next to LATENCY."""
    return photos.photo_folder("s1-photos", [(640, 480)] * count, SEED)


def batch_against(endpoints: int, folder: Path, count: int) -> dict:
    """One `mcv batch` over `folder` against `endpoints` stand-ins: wall time and the servers' view."""
    proc, urls = start_standin_script(_STANDIN_SCRIPT, str(ROOT / "tests"), str(endpoints), str(LATENCY), count=endpoints)
    try:
        with tempfile.TemporaryDirectory(prefix="mcv-s1-") as tmp:
            env = photos.clean_environ(Path(tmp), MCV_STATE_DIR=str(Path(tmp) / "state"))
            out = Path(tmp) / "out.jsonl"
            args = [sys.executable, "-m", "mcv", "batch", str(folder), "--preset", "caption", "--backend", "openai"]
            for url in urls:
                args += ["--base-url", url]
            started = time.monotonic()
            result = subprocess.run([*args, "--output", str(out), "-q"], env=env, capture_output=True, text=True)
            wall = time.monotonic() - started
            if result.returncode != 0:
                raise RuntimeError(f"mcv batch failed ({result.returncode}): {result.stderr}")
            records = [json.loads(line) for line in out.read_text().splitlines()]
    finally:
        proc.stdin.close()
        stats = json.loads(proc.stdout.readline() or "{}")
        proc.wait(timeout=30)
    answered = sorted(r["path"] for r in records if r["error"] is None)
    if len(answered) != count or len(set(answered)) != count or sum(stats["answered"]) != count:
        raise RuntimeError(f"{len(answered)} of {count} photos answered (servers: {stats['answered']})")
    if stats["errors"]:
        raise RuntimeError("stand-in failed: " + " | ".join(stats["errors"]))
    return {"wall": wall, "throughput": count / stats["span"], **stats}


def run(quick: bool = False) -> list[dict]:
    count = PHOTOS_QUICK if quick else PHOTOS_FULL
    folder = photo_folder(count)
    one = batch_against(1, folder, count)
    two = batch_against(2, folder, count)
    ratio = two["throughput"] / one["throughput"]
    return [
        {
            "id": "S1",
            "what": f"batch {count} photos over 2 OpenAI endpoints vs 1 ({LATENCY * 1000:.0f} ms, 1 slot each)",
            "ours": round(two["throughput"], 2),
            "peer": round(one["throughput"], 2),
            "unit": "images/s",
            "ratio": round(ratio, 3),
            "target": ">= 1.8",
            "ok": ratio >= 1.8,
            "note": f"answers per endpoint {two['answered']}; wall {two['wall']:.1f} s vs {one['wall']:.1f} s "
            f"(x{one['wall'] / two['wall']:.2f} with start-up); ideal {1 / LATENCY:.0f} images/s per endpoint",
        }
    ]


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    from bench.run import print_table

    print_table(run(quick="--quick" in sys.argv))
