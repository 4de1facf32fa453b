"""Hash the pair and get both blobs into Ollama, overlapping what can overlap.

Each file is hashed in its own thread. As soon as one digest is known (the
small projector, usually) its blob is checked with HEAD and uploaded if
missing, while the big LLM is still hashing. Upload only ever sends what
Ollama lacks: the same files a second time cost two HEAD requests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mcv.packaging.digest import DigestCache, HashJobs, file_size
from mcv.packaging.events import Reporter


@dataclass
class BlobReport:
    digests: dict[Path, str] = field(default_factory=dict)
    present: dict[Path, bool] = field(default_factory=dict)  # already in Ollama before we came
    uploaded_bytes: int = 0


def hash_label(path: Path) -> str:
    return f"hash {path.name}"


def upload_label(path: Path) -> str:
    return f"upload {path.name}"


def hash_and_upload(
    client,
    paths: list[Path],
    *,
    reporter: Reporter,
    cache: DigestCache | None = None,
    upload: bool = True,
    check: bool = True,
) -> BlobReport:
    """Digests of `paths`; with `upload`, each missing blob sent as soon as it is hashed.

    `check=False` skips the HEAD requests (dry run without a reachable daemon).
    """
    report = BlobReport()
    for path in paths:
        reporter.start(hash_label(path), file_size(path))
    with HashJobs(paths, progress=lambda p, n: reporter.advance(hash_label(p), n), cache=cache) as jobs:
        for path, digest in jobs.as_completed():
            reporter.finish(hash_label(path))
            report.digests[path] = digest
            if check:
                report.present[path] = client.head_blob(digest)
            if upload and not report.present.get(path, False):
                report.uploaded_bytes += push(client, digest, path, reporter)
    return report


def upload_missing(client, digests: dict[Path, str], *, reporter: Reporter) -> BlobReport:
    """Second half of `hash_and_upload`, for digests already known."""
    report = BlobReport(digests=dict(digests))
    for path, digest in digests.items():
        report.present[path] = client.head_blob(digest)
        if not report.present[path]:
            report.uploaded_bytes += push(client, digest, path, reporter)
    return report


def push(client, digest: str, path: Path, reporter: Reporter) -> int:
    """Stream one file to `/api/blobs/<digest>`; the number of bytes sent."""
    label = upload_label(path)
    size = file_size(path)
    reporter.start(label, size)
    try:
        client.push_blob(digest, path, progress=lambda sent, total: reporter.update(label, sent, total))
    finally:
        reporter.finish(label)
    return size
