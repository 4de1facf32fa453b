"""`mcv model pull`: a model from the Ollama library, one progress bar per layer.

The stream (`/api/pull`) says `pulling manifest`, then `pulling <digest>`
with `total`/`completed` byte counts per layer (`completed` may be missing
early on), then `verifying sha256 digest`, `writing manifest`, `success`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mcv.core.config import DEFAULT_MODEL
from mcv.packaging.events import Reporter


@dataclass
class PullResult:
    name: str
    layers: dict[str, int] = field(default_factory=dict)  # digest -> total bytes
    capabilities: set[str] = field(default_factory=set)

    @property
    def vision(self) -> bool:
        return "vision" in self.capabilities


def layer_label(digest: str) -> str:
    return f"pull {digest.split(':', 1)[-1][:12]}"


def pull_model(client, name: str = DEFAULT_MODEL, *, reporter: Reporter | None = None) -> PullResult:
    reporter = reporter or Reporter()
    result = PullResult(name)
    open_labels: list[str] = []  # started, not finished yet
    last_status = None
    try:
        for event in client.pull(name):
            status = str(event.get("status") or "")
            digest = event.get("digest")
            total = event.get("total")
            if digest and isinstance(total, int):
                label = layer_label(str(digest))
                if str(digest) not in result.layers:
                    open_labels.append(label)
                    result.layers[str(digest)] = total
                    reporter.start(label, total)
                completed = event.get("completed")
                reporter.update(label, completed if isinstance(completed, int) else 0, total)
                continue
            if status and status != last_status:
                _finish(reporter, open_labels)
                reporter.status(status)
                last_status = status
    finally:
        _finish(reporter, open_labels)
    result.capabilities = client.capabilities(name)
    return result


def _finish(reporter: Reporter, labels: list[str]) -> None:
    while labels:
        reporter.finish(labels.pop(0))
