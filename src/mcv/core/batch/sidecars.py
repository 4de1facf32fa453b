"""Sidecar files beside each answered image; the image itself is never opened for writing.

- `--sidecar txt`:  IMAGE.txt, the answer (photo.jpg -> photo.jpg.txt);
- `--sidecar json`: IMAGE.json, the record a JSONL line holds;
- `--xmp`: the XMP sidecar (xmp.py), merged into one that is already there.
A PDF page's sidecar carries its page: scan.pdf.p2.txt; XMP describes a
whole image file, so PDF pages get none.

Nothing of the user's is replaced. An existing .json is replaced only when
it is a record mcv wrote (its keys say so: not, say, a Google Takeout
`IMG.jpg.json`), an existing .txt only when mcv wrote its present content
there (ledger.py), unless `--overwrite` says any may go; an XMP sidecar is
merged into, and one that is not XMP is left alone. A read-only sidecar,
a folder that cannot be written, two images sharing one XMP name
(a.jpg and a.png -> a.xmp) are all found before the model is asked
(`Sidecars.problem`), and again when writing; each is that image's error.

Writes are atomic and keep the permission bits the user set on the file
(sidecars can hold GPS positions); a new sidecar gets the usual mode (the
umask's). A sidecar that is a symbolic link is left as it is and reported:
a link planted beside a photo must not get a batch to overwrite what it
points to.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Iterable

from mcv.core.batch.ledger import Ledger
from mcv.core.batch.records import Record
from mcv.errors import InputError

OUR_KEYS = frozenset({"path", "sha256", "answer", "error", "metrics", "model"})  # a record's (records.py)
MAX_JSON_BYTES = 16 << 20


def sidecar_name(image: str, kind: str, page: int | None) -> Path:
    """photo.jpg -> photo.jpg.txt; scan.pdf page 2 -> scan.pdf.p2.txt."""
    path = Path(image)
    suffix = f".p{page}.{kind}" if page is not None else f".{kind}"
    return path.with_name(path.name + suffix)


class Sidecars:
    """The sidecars a batch writes (module docstring)."""

    def __init__(
        self,
        kind: str | None,
        xmp_field: str | None,
        xmp_naming: str = "stem",
        *,
        overwrite: bool = False,
        ledger: Ledger | None = None,
        images: Iterable[tuple[str, str]] = (),  # (file, label) of every input: XMP name clashes
    ) -> None:
        from mcv.core.batch.xmp import sidecar_path

        self.kind = kind
        self.xmp_field = xmp_field
        self.xmp_naming = xmp_naming
        self.overwrite = overwrite
        self.ledger = ledger or Ledger(None)
        self.clash: dict[str, str] = {}  # file -> the label of the image that owns its XMP sidecar
        if xmp_field is not None:
            owners: dict[Path, str] = {}
            for file, label in images:
                target = sidecar_path(file, xmp_naming)
                if target in owners:
                    self.clash[file] = owners[target]
                else:
                    owners[target] = label

    @property
    def wanted(self) -> bool:
        return self.kind is not None or self.xmp_field is not None

    def targets(self, file: str, page: int | None) -> list[tuple[str, Path]]:
        from mcv.core.batch.xmp import sidecar_path

        found = []
        if self.kind is not None:
            found.append((self.kind, sidecar_name(file, self.kind, page)))
        if self.xmp_field is not None and page is None:
            found.append(("xmp", sidecar_path(file, self.xmp_naming)))
        return found

    def problem(self, label: str, file: str, page: int | None) -> str | None:
        """Why this image's sidecars could not be written (checked before it is asked), or None."""
        why = self._problem(file, page)
        return None if why is None else f"{label}: not asked: {why}"

    def write(self, record: Record, *, only_missing: bool = False) -> str | None:
        """Write `record`'s sidecars (an answered record); a one-line problem, or None.

        `only_missing`: an image answered in an earlier run gets the sidecars it lacks
        (a file that is not there, an XMP sidecar without the field); the others stay."""
        from mcv.core.batch.xmp import merge, read_sidecar

        file = record.file
        if file is None or not self.wanted:
            return None
        targets = self.targets(file, record.page)
        if only_missing:
            targets = [(kind, target) for kind, target in targets if self._lacks(kind, target)]
        why = self._problem(file, record.page, targets)
        if why is not None:
            return f"{record.path}: answered, but {why}"
        target = None
        try:
            for kind, target in targets:
                if kind == "xmp":
                    value = _xmp_value(record, self.xmp_field)
                    content = merge(read_sidecar(target), self.xmp_field, value, tool=_tool())
                else:
                    content = _content(record, kind)
                    if kind == "txt":
                        self.ledger.note(target, content)
                _write(target, content)
        except InputError as err:
            return f"{record.path}: answered, but its sidecar {_shown(target)} was left as it was: {err.message}"
        except OSError as err:
            why = err.strerror or str(err)
            return f"{record.path}: answered, but its sidecar {_shown(target)} could not be written ({why})"
        return None

    # --- checks -----------------------------------------------------------------------------------

    def _lacks(self, kind: str, target: Path) -> bool:
        """Whether an image answered before lacks this sidecar (the file, or the XMP field)."""
        from mcv.core.batch.xmp import has_field, read_sidecar

        if kind != "xmp":
            return not os.path.lexists(target)
        try:
            existing = read_sidecar(target)
            return existing is None or not has_field(existing, self.xmp_field)
        except (InputError, OSError):
            return True  # _problem says what is wrong with it

    def _problem(self, file: str, page: int | None, targets: list[tuple[str, Path]] | None = None) -> str | None:
        targets = self.targets(file, page) if targets is None else targets
        if file in self.clash and any(kind == "xmp" for kind, _ in targets):
            return f"its XMP sidecar is also {self.clash[file]}'s (--xmp-name full names them photo.jpg.xmp)"
        for kind, target in targets:
            why = self._target_problem(kind, target)
            if why is not None:
                return f"its sidecar {_shown(target)} {why}"
        return None

    def _target_problem(self, kind: str, target: Path) -> str | None:
        """Why `target` cannot be (re)written, or None."""
        from mcv.core.batch.xmp import MAX_SIDECAR_BYTES, check_sidecar

        try:
            info = os.lstat(target)
        except FileNotFoundError:
            info = None
        except OSError as err:
            return f"cannot be looked at ({err.strerror or err})"
        if info is not None and stat.S_ISLNK(info.st_mode):
            return "is a symbolic link (left as it is: mcv does not write through links)"
        folder = target.parent
        if not os.access(folder, os.W_OK | os.X_OK):
            return f"cannot be written (the folder {folder} is not writable)"
        if info is None:
            return None
        if not stat.S_ISREG(info.st_mode):
            return "exists and is not a file"
        if not os.access(target, os.W_OK) or not info.st_mode & 0o222:  # (root may write anything: the bits say)
            return "is read-only (left as it is)"
        if kind == "xmp":
            if info.st_size > MAX_SIDECAR_BYTES:
                return f"is over {MAX_SIDECAR_BYTES >> 20} MB (left as it is)"
            try:
                check_sidecar(target.read_bytes())
            except InputError as err:
                return f"was left as it was: {err.message}"
            except OSError as err:
                return f"cannot be read ({err.strerror or err})"
            return None
        if self.overwrite:
            return None
        if self._ours(kind, target, info):
            return None
        return "exists and mcv did not write it (--overwrite replaces it)"

    def _ours(self, kind: str, real: Path, info: os.stat_result) -> bool:
        if info.st_size > MAX_JSON_BYTES:
            return False
        try:
            content = real.read_bytes()
        except OSError:
            return False
        if kind == "txt":
            return self.ledger.ours(real, content)
        try:
            document = json.loads(content)
        except ValueError:
            return False
        return isinstance(document, dict) and OUR_KEYS <= document.keys()


def _content(record: Record, kind: str) -> bytes:
    if kind == "txt":
        text = record.as_dict()["answer"] or ""
        text = text if text.endswith("\n") else text + "\n"
    else:
        text = json.dumps(record.as_dict(), ensure_ascii=False, indent=2) + "\n"
    return text.encode("utf-8")


def _shown(target: Path) -> str:
    """A sidecar's name as messages and records show it: valid text (inputs.py `shown`)."""
    from mcv.core.batch.inputs import shown

    return shown(str(target))[0]


def _write(target: Path, content: bytes) -> None:
    from mcv.core.atomic import write_atomically

    write_atomically(target, content, keep=True)


def _tool() -> str:
    from mcv import __version__

    return f"mcv {__version__}"


def _xmp_value(record: Record, field: str) -> str | list[str]:
    """The answer as the XMP field wants it: keywords for `subject`, one text otherwise."""
    document = record.as_dict()  # valid text throughout
    answer, data = document["answer"], document.get("data")
    if field == "subject":
        if isinstance(data, list):
            return [str(word) for word in data]
        text = answer or ""
        return [word.strip() for word in text.replace("\n", ",").split(",") if word.strip()]
    if data is not None and not isinstance(data, str):
        return json.dumps(data, ensure_ascii=False)
    return (data if isinstance(data, str) else answer or "").strip()
