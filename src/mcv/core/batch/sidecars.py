"""Sidecar files beside each answered image; the image itself is never opened for writing.

- `--sidecar txt`:  IMAGE.txt, the answer (photo.jpg -> photo.jpg.txt);
- `--sidecar json`: IMAGE.json, the record a JSONL line holds;
- `--xmp`: the XMP sidecar (xmp.py), merged into one that is already there.
A PDF page's sidecar carries its page: scan.pdf.p2.txt; XMP describes a
whole image file, so PDF pages get none.

Every file is replaced atomically; .txt and .json sidecars are mcv's own
output and are replaced when an image is answered again.
"""

from __future__ import annotations

import json
from pathlib import Path

from mcv.core.batch.records import Record
from mcv.errors import InputError


def sidecar_name(image: str, kind: str, page: int | None) -> Path:
    """photo.jpg -> photo.jpg.txt; scan.pdf page 2 -> scan.pdf.p2.txt."""
    path = Path(image)
    suffix = f".p{page}.{kind}" if page is not None else f".{kind}"
    return path.with_name(path.name + suffix)


def write_sidecars(record: Record, image: str, kind: str | None, xmp_field: str | None, xmp_naming: str) -> str | None:
    """Write what was asked for `record` (answered); a one-line problem, or None."""
    from mcv.core.atomic import write_atomically

    target = None
    try:
        if kind is not None:
            target = sidecar_name(image, kind, record.page)
            if kind == "txt":
                text = record.answer or ""
                write_atomically(target, text if text.endswith("\n") else text + "\n")
            else:
                write_atomically(target, json.dumps(record.as_dict(), ensure_ascii=False, indent=2) + "\n")
        if xmp_field is not None and record.page is None:
            from mcv import __version__
            from mcv.core.batch.xmp import sidecar_path, write_sidecar

            target = sidecar_path(image, xmp_naming)
            write_sidecar(target, xmp_field, xmp_value(record, xmp_field), tool=f"mcv {__version__}")
    except InputError as err:
        return f"{record.path}: answered, but its sidecar {target} was left as it was: {err.message}"
    except OSError as err:
        return f"{record.path}: answered, but its sidecar {target} could not be written ({err.strerror or err})"
    return None


def xmp_value(record: Record, field: str) -> str | list[str]:
    """The answer as the XMP field wants it: keywords for `subject`, one text otherwise."""
    if field == "subject":
        if isinstance(record.data, list):
            return [str(word) for word in record.data]
        text = record.answer or ""
        return [word.strip() for word in text.replace("\n", ",").split(",") if word.strip()]
    if record.data is not None and not isinstance(record.data, str):
        return json.dumps(record.data, ensure_ascii=False)
    return (record.data if isinstance(record.data, str) else record.answer or "").strip()
