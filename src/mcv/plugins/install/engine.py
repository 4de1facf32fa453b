"""Install, uninstall and report targets: plan (the target module), apply (changes.py), remember (manifest.py).

- install: idempotent (a file already as planned is not rewritten); a file in
  the way that mcv did not write (or that was changed since) is left alone
  unless --force; files an earlier install wrote that the plan no longer has
  (another XDG folder, a renamed action) are removed.
- uninstall: undoes the manifest's records, newest first; a file changed
  since mcv wrote it stays (and stays recorded) unless --force.
- `dry_run` lists every file that would be written or removed, and changes nothing.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from mcv.errors import InputError, McvError, UsageError
from mcv.plugins.install.changes import (
    INSTALLED,
    MISSING,
    REVERTERS,
    WriteFile,
    read_bytes,
    record_paths,
    same_place,
    sha256,
)
from mcv.plugins.install.context import Context
from mcv.plugins.install.manifest import Manifest
from mcv.plugins.install.registry import TARGETS, load_target


@dataclass(frozen=True)
class TargetStatus:
    name: str
    description: str
    absent: str | None  # why the program is not found here (None: it is)
    state: str  # "installed", "not installed", "needs reinstall"
    files: tuple[tuple[str, str], ...]  # (what, its state)


def chosen_targets(context: Context, names: Sequence[str], manifest: Manifest, *, installed_only: bool = False) -> list[str]:
    """`names` checked, or by default: the installed targets (uninstall), or the ones found here (install)."""
    for name in names:
        load_target(name)
    if names:
        return list(dict.fromkeys(names))
    if installed_only:
        return [name for name in TARGETS if name in manifest.targets] + sorted(set(manifest.targets) - set(TARGETS))
    found = [
        name for name in TARGETS if getattr(load_target(name), "BY_DEFAULT", True) and load_target(name).detect(context) is None
    ]
    if not found:
        raise UsageError(
            "no supported file manager was found here", hint="name a target to install anyway (`mcv plugins ls` lists them)"
        )
    return found


def install(context: Context, names: Sequence[str], *, dry_run: bool = False, force: bool = False) -> list[str]:
    manifest = Manifest.load(context.environ)
    lines: list[str] = []
    for name in chosen_targets(context, names, manifest):
        lines += _install_one(context, name, manifest, dry_run=dry_run, force=force)
    return lines


def _install_one(context: Context, name: str, manifest: Manifest, *, dry_run: bool, force: bool) -> list[str]:
    module = load_target(name)
    changes = module.plan(context)
    previous = manifest.records(name)
    stale = [record for record in previous if not any(same_place(change, record) for change in changes)]
    in_the_way = [change for change in changes if isinstance(change, WriteFile) and not _may_replace(change, previous)]
    if dry_run:
        lines = [f"{name}: {_would(change, change in in_the_way and not force)}" for change in changes]
        return lines + [f"{name}: would {_undo_verb(record)} {path}" for record in stale for path in record_paths(record)]
    if in_the_way and not force:
        raise InputError(
            f"{in_the_way[0].path} is in the way: mcv did not write it, or it was changed since",
            hint=f"move it away, or run `mcv plugins install {name} --force` to replace it",
        )
    lines, records = [], []
    try:
        for change in changes:
            before = change.state()
            prior = next((record for record in previous if same_place(change, record)), None)
            records.append(change.apply(prior))
            lines.append(f"{name}: {'unchanged' if before == INSTALLED else 'wrote'} {change.describe()}")
    except BaseException:
        # Keep knowing what was written: this run's records, and the earlier ones it did not reach.
        reached = changes[: len(records)]
        earlier = [record for record in previous if not any(same_place(change, record) for change in reached)]
        manifest.set(name, context.launcher, records + earlier)
        raise
    manifest.set(name, context.launcher, records + stale)
    kept = []
    for record in stale:
        problem = REVERTERS[record["kind"]](record, force)
        lines.append(f"{name}: {problem}" if problem else f"{name}: removed {', '.join(record_paths(record))} (no longer planned)")
        if problem:
            kept.append(record)
    manifest.set(name, context.launcher, records + kept)
    after = module.after(context) if hasattr(module, "after") else module.AFTER  # a target may say it per desktop
    if after and any(line.startswith(f"{name}: wrote") for line in lines):
        lines.append(f"{name}: {after}")
    return lines


def _would(change, blocked: bool) -> str:
    if blocked:
        return f"would stop: {change.path} is in the way (mcv did not write it; --force replaces it)"
    return f"would {'leave unchanged' if change.state() == INSTALLED else 'write'} {change.describe()}"


def _undo_verb(record: Mapping[str, Any]) -> str:
    """What undoing a record does: a merged file is the person's too, and only mcv's entries leave it."""
    return "take mcv's entries out of" if record["kind"] == "merge" else "remove"


def _may_replace(change: WriteFile, previous: Sequence[Mapping[str, Any]]) -> bool:
    """A file may be (re)written when it is missing, already as planned, or exactly what mcv wrote there."""
    current = read_bytes(change.path)
    if current is None or current == change.data:
        return True
    return any(record.get("path") == str(change.path) and record.get("sha256") == sha256(current) for record in previous)


def uninstall(context: Context, names: Sequence[str], *, dry_run: bool = False, force: bool = False) -> list[str]:
    manifest = Manifest.load(context.environ)
    targets = chosen_targets(context, names, manifest, installed_only=True)
    if not targets:
        return ["nothing is installed"]
    lines: list[str] = []
    folders: list[str] = []
    for name in targets:
        records = manifest.records(name)
        if not records:
            lines.append(f"{name}: not installed")
            continue
        if dry_run:
            lines += [
                f"{name}: would {_undo_verb(record)} {path}" for record in reversed(records) for path in record_paths(record)
            ]
            continue
        kept = []
        for record in reversed(records):
            problem = REVERTERS[record["kind"]](record, force)
            if problem:
                kept.insert(0, record)
                lines.append(f"{name}: {problem}")
            else:
                folders += record.get("created_dirs", [])
                what = "took mcv's entries out of" if record["kind"] == "merge" else "removed"
                lines.append(f"{name}: {what} {', '.join(record_paths(record))}")
        if kept:  # folders this run could not remove yet: the kept files' records take them over
            mine = [folder for record in records for folder in record.get("created_dirs", [])]
            kept[0] = {**kept[0], "created_dirs": sorted(set(mine), key=lambda folder: len(Path(folder).parts), reverse=True)}
        manifest.set(name, context.launcher, kept)
    # Folders one target created may have held another's files until just now: a last pass, deepest first.
    for folder in sorted(set(folders), key=lambda folder: len(Path(folder).parts), reverse=True):
        try:
            os.rmdir(folder)
        except OSError:
            pass  # not empty: someone else's files are in it, or it is gone
    return lines


def _state_of(change) -> str:
    """A change's state; a settings store that cannot be read (no gsettings, no schema) is said, not raised."""
    try:
        return change.state()
    except McvError as err:
        return f"unknown ({err.message})"


def status(context: Context, names: Sequence[str]) -> list[TargetStatus]:
    manifest = Manifest.load(context.environ)
    for name in names:
        load_target(name)
    report = []
    for name in names or list(TARGETS):
        module = load_target(name)
        recorded = bool(manifest.records(name))
        # Compared with what was installed (maybe with --mcv-path), not with this mcv's path.
        launcher = tuple(manifest.targets[name]["launcher"]) if recorded else context.launcher
        changes = module.plan(dataclasses.replace(context, launcher=launcher))
        states = [_state_of(change) for change in changes]
        absent = module.detect(context)
        # An mcv for this machine that is gone (not one named for another: an exported .reg).
        unreadable = next((state for state in states if state.startswith("unknown")), None)
        if recorded and absent is None and not os.path.exists(launcher[0]):
            state = f"needs reinstall ({launcher[0]} is gone)"
        elif unreadable is not None:
            state = unreadable
        elif states and all(state == INSTALLED for state in states):
            state = "installed"
        elif not recorded and all(state == MISSING for state in states):
            state = "not installed"
        else:
            state = "needs reinstall"  # changed since, partly removed, or made for another mcv
        files = tuple((change.describe(), state_name) for change, state_name in zip(changes, states))
        report.append(TargetStatus(name, module.DESCRIPTION, absent, state, files))
    return report
