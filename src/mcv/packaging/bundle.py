"""`mcv model modelfile`: a Modelfile, or a self-contained bundle folder.

A bundle holds the two GGUFs (hard-linked: no extra disk space; copied when
the folder is on another filesystem), a `Modelfile` whose FROM lines are
`./<file>`, and `SHA256SUMS` (`sha256sum -c` format) - so the folder can be
moved anywhere and `ollama create NAME -f DIR/Modelfile` still works.

Existing files in DIR are never replaced by different ones without `force`;
identical ones are left as they are, so running it twice is harmless. Every
check happens before the first write.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mcv.core.atomic import replace_atomically, write_atomically
from mcv.errors import InputError, UsageError
from mcv.modelfile import render
from mcv.packaging.digest import DigestCache, hash_files
from mcv.packaging.events import Reporter


@dataclass
class BundleResult:
    directory: Path
    modelfile: Path
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    copied: list[Path] = field(default_factory=list)  # GGUFs copied (not linked): other filesystem


def write_modelfile(pair, directory: Path, *, force: bool = False) -> BundleResult:
    """DIR/Modelfile referring to the GGUFs where they are (relative paths)."""
    directory = _ensure_dir(directory)
    target = directory / "Modelfile"
    text = render.modelfile_text(pair, relative_to=directory)
    result = BundleResult(directory, target)
    _refuse_clobber([(target, text.encode("utf-8"))], force)
    _write_text(target, text, result)
    return result


def write_bundle(
    pair,
    directory: Path,
    *,
    force: bool = False,
    cache: DigestCache | None = None,
    reporter: Reporter | None = None,
) -> BundleResult:
    """DIR/{llm, projector, Modelfile, SHA256SUMS}."""
    from mcv.packaging.blobs import hash_label

    reporter = reporter or Reporter()
    directory = _ensure_dir(directory)
    names = bundle_names(pair)  # source path -> file name inside the bundle
    sources = list(names)
    for source in sources:
        reporter.start(hash_label(source), source.stat().st_size)
    digests = hash_files(sources, cache=cache, progress=lambda p, n: reporter.advance(hash_label(p), n))
    for source in sources:
        reporter.finish(hash_label(source))

    bundled = {source: directory / names[source] for source in sources}
    bundled_pair = dataclasses.replace(pair, llm=bundled[Path(pair.llm)], projector=bundled[Path(pair.projector)])
    modelfile = render.modelfile_text(bundled_pair, relative_to=directory)
    sums = "".join(f"{digests[s].split(':', 1)[1]}  {names[s]}\n" for s in sources)

    result = BundleResult(directory, directory / "Modelfile")
    gguf_conflicts = [
        dest
        for source, dest in bundled.items()
        if dest.exists() and not _same_file(source, dest, digests[source], cache)
    ]
    _refuse_clobber(
        [(directory / "Modelfile", modelfile.encode("utf-8")), (directory / "SHA256SUMS", sums.encode("utf-8"))],
        force,
        extra_conflicts=gguf_conflicts,
    )
    for source, dest in bundled.items():
        if dest.exists() and dest not in gguf_conflicts:
            result.unchanged.append(dest)
            continue
        if _link_or_copy(source, dest):
            result.copied.append(dest)
        result.written.append(dest)
        if cache is not None:
            cache.store(dest, digests[source])
    _write_text(directory / "SHA256SUMS", sums, result)
    _write_text(directory / "Modelfile", modelfile, result)
    return result


def bundle_names(pair) -> dict[Path, str]:
    """File names inside the bundle: the originals, made distinct if they clash."""
    llm, projector = Path(pair.llm), Path(pair.projector)
    if llm.name != projector.name:
        return {llm: llm.name, projector: projector.name}
    return {llm: f"llm-{llm.name}", projector: f"mmproj-{projector.name}"}


def _ensure_dir(directory: Path) -> Path:
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory} exists and is not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"cannot create folder {directory}: {err.strerror}") from None
    return directory


def _refuse_clobber(wanted: list[tuple[Path, bytes]], force: bool, extra_conflicts: list[Path] = ()) -> None:
    if force:
        return
    conflicts = list(extra_conflicts)
    for path, content in wanted:
        if path.exists():
            try:
                same = path.read_bytes() == content
            except OSError:
                same = False
            if not same:
                conflicts.append(path)
    if conflicts:
        raise UsageError(
            f"{conflicts[0]} already exists with other contents; not overwriting it",
            hint="use --force to replace it, or choose another -o folder",
        )


def _same_file(source: Path, dest: Path, digest: str, cache: DigestCache | None) -> bool:
    try:
        if os.path.samefile(source, dest):
            return True
        if dest.stat().st_size != source.stat().st_size:
            return False
    except OSError:
        return False
    return hash_files([dest], cache=cache)[dest] == digest


def _link_or_copy(source: Path, dest: Path) -> bool:
    """Put `source` at `dest` atomically; True if it had to be copied."""
    copied = []

    def link_or_copy(tmp: Path) -> None:
        try:
            os.link(os.path.realpath(source), tmp)
        except OSError:  # other filesystem, or links not allowed there
            shutil.copyfile(source, tmp)
            copied.append(True)

    try:
        replace_atomically(dest, link_or_copy)
    except OSError as err:
        raise InputError(f"cannot write {dest}: {err.strerror or err}") from None
    return bool(copied)


def _write_text(path: Path, text: str, result: BundleResult) -> None:
    try:
        if path.exists() and path.read_bytes() == text.encode("utf-8"):
            result.unchanged.append(path)
            return
        write_atomically(path, text)
    except OSError as err:
        raise InputError(f"cannot write {path}: {err.strerror or err}") from None
    result.written.append(path)
