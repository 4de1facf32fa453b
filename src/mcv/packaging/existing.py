"""Is a model of that name already in Ollama, and is it what we would create?

A user's model (e.g. the library `minicpm-v`) must never vanish silently, so
`create` asks first. Two sound ways to call an existing model "the same":

1. mcv created it: a record (host, name) -> (manifest digest from
   `/api/tags`, fingerprint of the create payload) written after each
   successful create. The manifest digest pins the exact content, so a
   matching record means nothing changed since.
2. `/api/show`'s Modelfile names its layers' blobs (`FROM …/sha256-<hex>`):
   when both our blobs are there and the template and system prompt agree,
   it is the same model. (Ollama >= 0.30 rewrites the LLM blob at create
   time, so this alone only recognises models made by older daemons; way 1
   covers the rest.)

Anything else is "different" and replacing it needs --force.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from mcv.core.atomic import write_atomically
from mcv.core.ollama.names import full_name, same_model
from mcv.errors import ModelNotFound

ABSENT, SAME, DIFFERENT = "absent", "same", "different"

_FROM_BLOB = re.compile(r"^FROM\s+\S*sha256[-:]([0-9a-f]{64})\s*$", re.MULTILINE)


def fingerprint(payload: Mapping) -> str:
    """What a create payload makes, independent of the target name."""
    content = {key: value for key, value in payload.items() if key not in ("model", "stream")}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Existing:
    state: str  # ABSENT | SAME | DIFFERENT
    show: dict | None = None


class CreatedRecords:
    """Models mcv created, per daemon: {"host|name": {manifest, fingerprint}}."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            data = json.loads(path.read_text(encoding="utf-8")) if path else {}
        except (OSError, ValueError):
            data = {}
        self._data: dict = data if isinstance(data, dict) else {}

    @classmethod
    def for_environment(cls, environ: Mapping[str, str]) -> "CreatedRecords":
        from mcv.packaging.state import state_dir

        return cls(state_dir(environ) / "created-models.json")

    @staticmethod
    def _key(host: str, name: str) -> str:
        return f"{host.rstrip('/')}|{full_name(name)}"

    def get(self, host: str, name: str) -> dict | None:
        entry = self._data.get(self._key(host, name))
        return entry if isinstance(entry, dict) else None

    def put(self, host: str, name: str, *, manifest: str, fingerprint: str) -> None:
        self._data[self._key(host, name)] = {"manifest": manifest, "fingerprint": fingerprint}
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, json.dumps(self._data, indent=1, sort_keys=True))
        except OSError:
            pass  # without the record a later create only asks for --force


def manifest_digest(client, name: str) -> str | None:
    """The manifest digest `/api/tags` lists for `name`, if any."""
    for entry in client.tags():
        if same_model(str(entry.get("name") or entry.get("model") or ""), name):
            return entry.get("digest") or None
    return None


def blob_digests_in(show: Mapping) -> set[str]:
    """Digests of the blobs an `/api/show` Modelfile is built FROM."""
    return {f"sha256:{hex_}" for hex_ in _FROM_BLOB.findall(str(show.get("modelfile") or ""))}


def examine(
    client,
    name: str,
    *,
    host: str,
    payload: Mapping,
    records: CreatedRecords,
) -> Existing:
    """Compare the model `name` in Ollama with what `payload` (with files) would make."""
    try:
        show = client.show(name)
    except ModelNotFound:
        return Existing(ABSENT)
    record = records.get(host, name)
    if record is not None and record.get("fingerprint") == fingerprint(payload):
        current = manifest_digest(client, name)
        if current and record.get("manifest") == current:
            return Existing(SAME, show)
    ours = set((payload.get("files") or {}).values())
    if ours and ours <= blob_digests_in(show):
        same_text = (show.get("template") or "") == (payload.get("template") or "") and (
            show.get("system") or ""
        ) == (payload.get("system") or "")
        if same_text:
            return Existing(SAME, show)
    return Existing(DIFFERENT, show)
