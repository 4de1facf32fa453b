"""Ollama model names: `[host/][namespace/]model[:tag]`, as the daemon and its store spell them.

`minicpm-v` is `registry.ollama.ai/library/minicpm-v:latest`; Ollama compares
names case-insensitively. Used wherever two spellings of one model must be
recognised as the same (the store on disk, `/api/tags`, the fallback's choice
of a local pair).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mcv.errors import InputError

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class ModelName:
    host: str
    namespace: str
    model: str
    tag: str

    @classmethod
    def parse(cls, text: str) -> "ModelName":
        """Parse `model`, `model:tag`, `ns/model:tag` or `host/ns/model:tag`."""
        raw = text.strip()
        rest, _, _digest = raw.partition("@")  # name@sha256:… pins are ignored here
        tag = DEFAULT_TAG
        head, colon, maybe_tag = rest.rpartition(":")
        # A colon before the last slash belongs to a host:port, not a tag.
        if colon and "/" not in maybe_tag:
            rest, tag = head, maybe_tag
        parts = rest.split("/")
        if len(parts) == 1:
            host, namespace, model = DEFAULT_HOST, DEFAULT_NAMESPACE, parts[0]
        elif len(parts) == 2:
            host, (namespace, model) = DEFAULT_HOST, parts
        elif len(parts) == 3:
            host, namespace, model = parts
        else:
            raise InputError(f"not a model name: {text!r}", hint="use model, model:tag or namespace/model:tag")
        for part in (namespace, model, tag):
            if not _PART.match(part):
                raise InputError(f"not a model name: {text!r}", hint="use model, model:tag or namespace/model:tag")
        if not host or any(ch in host for ch in "\\ ") or host in {".", ".."}:
            raise InputError(f"not a model name: {text!r}")
        return cls(host, namespace, model, tag)

    def manifest_relpath(self) -> Path:
        return Path("manifests", self.host, self.namespace, self.model, self.tag)

    def short(self) -> str:
        """The name as `ollama list` shows it."""
        prefix = ""
        if self.host != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        return f"{prefix}{self.model}:{self.tag}"


def full_name(name: str) -> str:
    """`minicpm-v` -> `minicpm-v:latest` (as /api/tags lists it)."""
    return ModelName.parse(name).short()


def same_model(a: str, b: str) -> bool:
    """Whether two names denote one model (`minicpm-v` is `MiniCPM-V:latest`); False if either is no name."""
    try:
        return full_name(a).lower() == full_name(b).lower()
    except InputError:
        return False
