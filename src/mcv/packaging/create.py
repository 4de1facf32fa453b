"""`mcv model create`: a validated GGUF pair -> an Ollama vision model.

Order of work, each step before anything it could spoil:
1. validate the pair (headers only) - a bad pair is refused before any upload;
2. look up the target names; if one exists, hash first and compare
   (`existing.examine`) - other contents are never replaced without --force;
3. hash both files in two threads, HEAD each blob and stream up only the
   missing ones (the projector goes up while the LLM still hashes);
4. POST /api/create (JSON: files, template, parameters, system, license) and
   show its status stream; the second name is made `from` the first, which
   costs Ollama no second copy of the weights;
5. check `/api/show` lists `vision`, and record what was made.

Names: NAME without a tag gives two models, NAME:<generation>-<quant> (the
precise one, e.g. minicpm-v:2.5-q4_K_M) and NAME:latest (what `ollama run
NAME` uses). NAME with an explicit tag gives just that one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from mcv.errors import BackendError, CapabilityError, ServerUnavailable, UsageError
from mcv.core.config import DEFAULT_MODEL
from mcv.core.ollama.names import ModelName, full_name
from mcv.packaging import existing
from mcv.packaging.blobs import hash_and_upload, upload_missing
from mcv.packaging.digest import DigestCache
from mcv.packaging.events import Reporter



@dataclass
class CreateResult:
    names: list[str]
    created: list[str] = field(default_factory=list)
    up_to_date: list[str] = field(default_factory=list)
    uploaded_bytes: int = 0
    payloads: list[dict] = field(default_factory=list)
    dry_run: bool = False
    would_upload: list[tuple[Path, str, int]] = field(default_factory=list)  # (file, digest, bytes)
    server_reachable: bool = True

    def dry_run_text(self) -> str:
        """What a dry run prints: the payloads, then the blobs it would send."""
        lines = []
        for payload in self.payloads:
            lines.append(f"POST /api/create {json.dumps(payload, indent=2, ensure_ascii=False)}")
        if not self.server_reachable:
            lines.append("# Ollama not reachable: every blob would be uploaded")
        for path, digest, size in self.would_upload:
            lines.append(f"POST /api/blobs/{digest}  # {path} ({size} bytes)")
        if self.server_reachable and not self.would_upload:
            lines.append("# no blob to upload: Ollama has both")
        return "\n".join(lines) + "\n"


# -- arguments ----------------------------------------------------------


def split_arguments(arguments: Sequence[str]) -> tuple[str | None, list[Path]]:
    """`[NAME] LLM MMPROJ` or `[NAME] DIR` -> (name or None, paths).

    With three arguments the first is the name. With two, it is a name only
    if it is not an existing file or folder. One argument is a folder.
    """
    args = list(arguments)
    if not 1 <= len(args) <= 3:
        raise UsageError("expected [NAME] LLM MMPROJ, or [NAME] FOLDER", hint="see 'mcv model create --help'")
    if len(args) == 3:
        return args[0], [Path(args[1]), Path(args[2])]
    if len(args) == 2 and not Path(args[0]).exists():
        return args[0], [Path(args[1])]
    return None, [Path(a) for a in args]


def load_pair(paths: Sequence[Path]):
    """Validate the pair given as two files or one folder holding both."""
    from mcv.modelfile import identify

    if len(paths) == 1:
        return identify.validate_pair(*identify.find_pair_in_dir(paths[0]))
    return identify.validate_pair(paths[0], paths[1])


def target_names(name: str | None, pair) -> list[str]:
    """Full names to create, the precise one first."""
    from mcv.modelfile import render

    base = name or DEFAULT_MODEL
    parsed = ModelName.parse(base)  # validates; InputError if not a name
    if _has_explicit_tag(base):
        return [parsed.short()]
    precise = f"{base}:{render.default_tag(pair)}"
    ModelName.parse(precise)
    return [full_name(precise), full_name(base)]


def _has_explicit_tag(name: str) -> bool:
    return ":" in name.rsplit("/", 1)[-1].split("@", 1)[0]


def file_keys(pair) -> dict[Path, str]:
    """The `files` keys: base names (Ollama wants relative paths), kept distinct.

    Two files of the same name (from two folders) become `llm/<name>` and
    `mmproj/<name>`, the way `ollama create` names files relative to their
    common folder.
    """
    llm, projector = Path(pair.llm), Path(pair.projector)
    if llm.name != projector.name:
        return {llm: llm.name, projector: projector.name}
    return {llm: f"llm/{llm.name}", projector: f"mmproj/{projector.name}"}


# -- the work -------------------------------------------------------------


def create_model(
    client,
    pair,
    *,
    name: str | None = None,
    host: str = "",
    force: bool = False,
    dry_run: bool = False,
    rehash: bool = False,
    reporter: Reporter | None = None,
    environ: Mapping[str, str] | None = None,
) -> CreateResult:
    from mcv.modelfile import render

    reporter = reporter or Reporter()
    environ = environ or {}
    names = target_names(name, pair)
    keys = file_keys(pair)
    paths = list(keys)
    cache = None if rehash else DigestCache.for_environment(environ)
    records = existing.CreatedRecords.for_environment(environ)
    result = CreateResult(names=names, dry_run=dry_run)

    present = _names_present(client, names, tolerate_down=dry_run)
    if present is None:  # dry run, daemon down: say what would be sent anyway
        result.server_reachable = False
    overlap = not dry_run and (force or not any(present.values()))
    blobs = hash_and_upload(
        client, paths, reporter=reporter, cache=cache, upload=overlap, check=result.server_reachable
    )
    files = {keys[path]: blobs.digests[path] for path in paths}
    primary = render.create_payload(pair, names[0], files=files)
    payloads = [primary] + [_copy_payload(primary, other, names[0]) for other in names[1:]]
    result.payloads = payloads

    states = {}
    if result.server_reachable:
        for target in names:
            states[target] = (
                existing.examine(client, target, host=host, payload=primary, records=records)
                if present.get(target)
                else existing.Existing(existing.ABSENT)
            )
    _refuse_replacing(states, force)

    if dry_run:
        result.would_upload = [
            (path, blobs.digests[path], path.stat().st_size)
            for path in paths
            if not blobs.present.get(path, False)
        ]
        return result

    to_make = [t for t in names if force or states[t].state != existing.SAME]
    if not overlap and to_make:
        result.uploaded_bytes += upload_missing(client, blobs.digests, reporter=reporter).uploaded_bytes
    else:
        result.uploaded_bytes += blobs.uploaded_bytes

    payload_for = {payload["model"]: payload for payload in payloads}
    for target in names:
        if target not in to_make:
            _require_vision(client, target, pair, states[target].show)
            result.up_to_date.append(target)
            continue
        _run_create(client, payload_for[target], reporter)
        _require_vision(client, target, pair)
        digest = existing.manifest_digest(client, target)
        if digest:
            records.put(host, target, manifest=digest, fingerprint=existing.fingerprint(primary))
        result.created.append(target)
    return result


def _names_present(client, names: list[str], *, tolerate_down: bool) -> dict[str, bool] | None:
    from mcv.errors import ModelNotFound

    present = {}
    for target in names:
        try:
            client.show(target)
            present[target] = True
        except ModelNotFound:
            present[target] = False
        except ServerUnavailable:
            if tolerate_down:
                return None
            raise
    return present


def _copy_payload(primary: dict, target: str, source: str) -> dict:
    """The second name, made from the first: same settings, no files."""
    payload = {key: value for key, value in primary.items() if key != "files"}
    payload["model"] = target
    payload["from"] = source
    return payload


def _refuse_replacing(states: Mapping[str, existing.Existing], force: bool) -> None:
    if force:
        return
    for target, found in states.items():
        if found.state == existing.DIFFERENT:
            raise UsageError(
                f"Ollama already has a model {target} with other contents; not replacing it",
                hint="use --force to replace it, or give another NAME",
            )


def _run_create(client, payload: dict, reporter: Reporter) -> None:
    target = payload["model"]
    reporter.note(f"creating {target}")
    try:
        for line in client.create(payload):
            status = line.get("status")
            if status:
                reporter.status(str(status))
    except ServerUnavailable:
        raise
    except BackendError as err:
        raise BackendError(f"Ollama could not create {target}: {err.message}", hint=_create_hint(err.message)) from None


def _create_hint(message: str) -> str:
    lowered = message.lower()
    if "llama-quantize" in lowered or "validate gguf" in lowered:
        return "Ollama's llama.cpp cannot read the LLM GGUF; check the file, or upgrade Ollama"
    if "unknown" in lowered and "architecture" in lowered:
        return "this Ollama does not know the LLM's architecture; upgrade Ollama"
    return "the Ollama server log has the details"


def _require_vision(client, target: str, pair, show: Mapping | None = None) -> None:
    show = show if show is not None else client.show(target)
    capabilities = set(show.get("capabilities") or [])
    if "vision" in capabilities:
        return
    version = _server_version(client)
    raise CapabilityError(
        f"Ollama made {target} but it has no vision capability: "
        f"the projector {Path(pair.projector).name} was not recognised",
        hint=f"Ollama {version} may be too old for MiniCPM-V projectors (0.12.6 or later works); "
        f"upgrade it, then run this again with --force",
    )


def _server_version(client) -> str:
    try:
        return str(client.version())
    except Exception:  # only used in a hint: never hide the real error
        return "(version unknown)"
