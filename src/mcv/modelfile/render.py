"""Ollama Modelfile text and /api/create payload for a validated MiniCPM-V pair.

API (stable):
    modelfile_text(pair, *, relative_to: Path, include_license=True) -> str
    create_payload(pair, name, *, files: dict[str, str]) -> dict
    default_tag(pair) -> str                 e.g. "2.5-q4_K_M"
    parameters(generation) -> dict           {"stop": [...], "num_ctx": 8192, ...} (typed)
    license_text(generation) -> str
    quote_value(value, *, multiline=False) -> str     Modelfile value quoting

The Modelfile and the payload say the same thing: both are built from
`parameters()`, the generation's template/system/parser and `license_text()`.

Quoting follows ollama parser/parser.go (ParseFile/unquote) exactly:
  - there are no escape sequences: the text between the quotes is taken as is;
  - a value ends at the first newline at which the buffered value, trimmed of
    surrounding whitespace, is complete: unquoted, "..." or \"\"\"...\"\"\";
  - unquoted values lose leading/trailing whitespace; runes that are not
    printable (strconv.IsPrint) other than space, tab, CR and LF are dropped.
So a value that contains \"\"\" or a non-printable rune cannot be written
faithfully; it is refused with an InputError instead of being silently changed.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

from mcv.errors import InputError
from mcv.modelfile.generations import Generation
from mcv.modelfile.identify import Pair

_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


# --- shared pieces -----------------------------------------------------------


def parameters(gen: Generation) -> dict:
    """PARAMETER values with the types Ollama's api.FormatParams gives them."""
    s = gen.sampling
    return {
        "stop": list(gen.stop),
        "num_ctx": gen.num_ctx,
        "temperature": s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k,
        "repeat_penalty": s.repeat_penalty,
    }


def license_text(gen: Generation) -> str:
    """What applies to the generation's weights: every licence with what it
    covers and where its terms are, then the notices those licences require
    in every copy (the sources are cited at the records in generations.py)."""
    lines = [f"{gen.name}: the licences that apply to these weights.", ""]
    for term in gen.licenses:
        lines += [f"{term.name} applies to {term.covers}.", f"Terms: {term.url}", ""]
    notices = [term.notice for term in gen.licenses if term.notice]
    if notices:
        lines += [*notices, ""]
    lines.append(f"Model card: https://huggingface.co/{gen.hf_repo}")
    return "\n".join(lines) + "\n"


def default_tag(pair: Pair) -> str:
    """Generation plus quantisation in Ollama library casing: 2.5-q4_K_M, 2.6-fp16."""
    return f"{pair.generation.id}-{_quant_tag(pair.quant)}" if pair.quant else pair.generation.id


def _quant_tag(quant: str) -> str:
    special = {"F16": "fp16", "F32": "fp32", "BF16": "bf16"}
    if quant in special:
        return special[quant]
    head, _, rest = quant.partition("_")  # "Q4" + "K_M" -> "q4_K_M"
    return head.lower() + ("_" + rest if rest else "")


# --- Modelfile ---------------------------------------------------------------


def _printable(ch: str) -> bool:
    """Go strconv.IsPrint: letters, marks, numbers, punctuation, symbols, ASCII space."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def quote_value(value: str, *, multiline: bool = False) -> str:
    """Write `value` so ollama's parser reads back exactly `value`.

    multiline=True always uses triple quotes (TEMPLATE/SYSTEM/LICENSE);
    otherwise the bare value is used when that round-trips, else "...".
    """
    bad = [ch for ch in value if not (_printable(ch) or ch in "\t\r\n")]
    if bad:
        raise InputError(f"cannot write {value[:40]!r} in a Modelfile: it contains unprintable character {bad[0]!r}")
    if '"""' in value:
        raise InputError(f'cannot write {value[:40]!r} in a Modelfile: it contains """')
    if multiline:
        return f'"""{value}"""'
    has_newline = "\n" in value or "\r" in value
    if not has_newline and value == value.strip(" \t") and value and not value.startswith('"'):
        return value
    if not has_newline and not value.endswith('"'):
        return f'"{value}"'
    return f'"""{value}"""'


def _from_path(path: Path, relative_to: Path) -> str:
    """`./name` relative to the Modelfile's directory when possible, else absolute."""
    path = path.resolve()
    base = relative_to.resolve()
    try:
        rel = os.path.relpath(path, base)
    except ValueError:  # another drive on Windows
        return str(path)
    rel = Path(rel).as_posix()
    return rel if rel.startswith("../") else "./" + rel


def modelfile_text(pair: Pair, *, relative_to: Path, include_license: bool = True) -> str:
    """The Modelfile for `pair`, with FROM paths relative to `relative_to`
    (the directory the Modelfile will be written in)."""
    gen = pair.generation
    lines = [
        f"# {gen.name} ({pair.quant or 'unknown quantisation'}) for Ollama, written by mcv",
        "# Create it with: ollama create <name> -f <this file>",
        f"FROM {quote_value(_from_path(pair.llm, relative_to))}",
        f"FROM {quote_value(_from_path(pair.projector, relative_to))}",
        "",
        f"TEMPLATE {quote_value(gen.ollama_template, multiline=True)}",
    ]
    if gen.system is not None:
        lines += ["", f"SYSTEM {quote_value(gen.system, multiline=True)}"]
    if gen.ollama_parser is not None:
        # keeps Ollama on this TEMPLATE, not the GGUF's chat template (generations.py)
        lines += ["", f"PARSER {quote_value(gen.ollama_parser)}"]
    lines.append("")
    for key, value in parameters(gen).items():
        values = value if isinstance(value, list) else [value]
        lines += [f"PARAMETER {key} {quote_value(_param_str(v))}" for v in values]
    if include_license:
        lines += ["", f"LICENSE {quote_value(license_text(gen), multiline=True)}"]
    return "\n".join(lines) + "\n"


def _param_str(value: object) -> str:
    return repr(value) if isinstance(value, float) else str(value)


# --- /api/create ---------------------------------------------------------------


def _valid_path(name: str) -> bool:
    """Go io/fs.ValidPath: slash-separated, no empty, "." or ".." elements."""
    if name == ".":
        return True
    return bool(name) and all(part not in ("", ".", "..") for part in name.split("/"))


def create_payload(pair: Pair, name: str, *, files: dict[str, str]) -> dict:
    """JSON body for POST /api/create (the blobs must already be uploaded).

    `files` maps a relative file name (normally the basename) to "sha256:<hex>"
    and must include the LLM and the projector.
    """
    if not name or any(ch.isspace() for ch in name):
        raise InputError(f"invalid model name {name!r}")
    for key, digest in files.items():
        if not _valid_path(key):
            raise InputError(f"invalid file name {key!r} for /api/create (must be a relative path)")
        if not isinstance(digest, str) or not _DIGEST.match(digest):
            raise InputError(f"{key}: invalid digest {digest!r} (expected sha256:<64 hex>)")
    names = {Path(k).name for k in files}
    missing = [p.name for p in (pair.llm, pair.projector) if p.name not in names]
    if missing:
        raise InputError(f"files for /api/create lack {', '.join(missing)}")
    gen = pair.generation
    payload: dict = {
        "model": name,
        "files": dict(files),
        "template": gen.ollama_template,
        "parameters": parameters(gen),
        "license": [license_text(gen)],
        "stream": True,
    }
    if gen.system is not None:
        payload["system"] = gen.system
    if gen.ollama_parser is not None:
        payload["parser"] = gen.ollama_parser
    return payload
