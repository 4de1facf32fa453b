"""Model names and file paths as Ollama checks them.

- `parse_name` is types/model/name.go ParseName + IsValid: "x" means
  registry.ollama.ai/library/x:latest; names compare case-insensitively.
- `valid_path` is Go's io/fs.ValidPath, which /api/create applies to `files` keys.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_HOST, DEFAULT_NAMESPACE, DEFAULT_TAG = "registry.ollama.ai", "library", "latest"


@dataclass(frozen=True)
class Name:
    host: str
    namespace: str
    model: str
    tag: str

    @property
    def key(self) -> str:
        """What two names must share to be the same model (case-insensitive)."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".lower()

    def shortest(self) -> str:
        if self.host == DEFAULT_HOST and self.namespace == DEFAULT_NAMESPACE:
            return f"{self.model}:{self.tag}"
        if self.host == DEFAULT_HOST:
            return f"{self.namespace}/{self.model}:{self.tag}"
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}"


def parse_name(raw: str) -> Name | None:
    """The fully qualified name, or None where Ollama says "invalid model name"."""
    s = raw.strip()
    tag = model = namespace = host = ""
    if s.rfind(":") > s.rfind("/"):
        s, tag, _ = _cut_promised(s, ":")
    s, model, promised = _cut_promised(s, "/")
    if not promised:
        model, s = s, ""
    else:
        s, namespace, promised = _cut_promised(s, "/")
        if not promised:
            namespace, s = s, ""
        else:
            host = s.split("://", 1)[-1]
    name = Name(host or DEFAULT_HOST, namespace or DEFAULT_NAMESPACE, model, tag or DEFAULT_TAG)
    parts = (("host", name.host), ("namespace", name.namespace), ("model", name.model), ("tag", name.tag))
    if not all(_valid_part(kind, part) for kind, part in parts):
        return None
    return name


def _cut_promised(s: str, sep: str) -> tuple[str, str, bool]:
    i = s.rfind(sep)
    if i < 0:
        return s, "", False
    before, after = s[:i], s[i + len(sep):]
    return before or "?", after or "?", True  # "?" = a promised part that is missing


def _valid_part(kind: str, s: str) -> bool:
    limit = 350 if kind == "host" else 80
    if not 1 <= len(s) <= limit:
        return False
    for i, c in enumerate(s):
        alnum = c.isascii() and (c.isalnum() or c == "_")
        if i == 0:
            if not alnum:
                return False
        elif c in "_-":
            continue
        elif c == ".":
            if kind == "namespace":
                return False
        elif c == ":":
            if kind != "host":
                return False
        elif not alnum:
            return False
    return True


def valid_path(name: str) -> bool:
    """io/fs.ValidPath: relative, slash-separated, no '.', '..' or empty element."""
    if name == ".":
        return True
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return all(elem not in ("", ".", "..") for elem in name.split("/"))
