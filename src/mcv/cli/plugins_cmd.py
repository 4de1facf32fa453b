"""`mcv plugins ls | install | uninstall | status [TARGET...]`: options here; mcv/plugins/install does the work."""

from __future__ import annotations

from typing import List, Optional

import typer

app = typer.Typer(
    help="Put mcv into file-manager menus (Describe image, Extract text, Copy alt text, Ask…), and take it out.",
    no_args_is_help=True,
)

_TARGETS_HELP = "Targets (default: every file manager found here; `mcv plugins ls` lists them)."


def _context(ctx: typer.Context, mcv_path: str | None = None):
    from mcv.plugins.install.context import Context

    return Context.from_environment(ctx.obj.environ, mcv_path=mcv_path)


def _print(ctx: typer.Context, lines: list[str]) -> None:
    ctx.obj.stdout.write("".join(line + "\n" for line in lines))
    ctx.obj.stdout.flush()


@app.command("ls")
def list_targets(ctx: typer.Context) -> int:
    """Every target: what it installs, whether its program is here, whether mcv is installed in it."""
    from mcv.plugins.install.engine import status

    targets = status(_context(ctx), [])
    name_width = max(len(target.name) for target in targets)
    state_width = max(len(target.state) for target in targets)
    for target in targets:
        found = "found here" if target.absent is None else target.absent
        _print(ctx, [f"{target.name:<{name_width}}  {target.state:<{state_width}}  {found}",
                     f"{'':<{name_width}}  {target.description}"])  # fmt: skip
    return 0


@app.command("install")
def install(
    ctx: typer.Context,
    targets: Optional[List[str]] = typer.Argument(None, metavar="[TARGET]...", help=_TARGETS_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="List every file it would write; change nothing."),
    force: bool = typer.Option(False, "--force", help="Replace files in the way that mcv did not write."),
    mcv_path: Optional[str] = typer.Option(
        None, "--mcv-path", help="The mcv the entries run (absolute) [default: this one]; e.g. the Windows path for an exported .reg."
    ),
    key: Optional[str] = typer.Option(
        None, "--key", help="The `shortcut` target's key, e.g. '<Super><Shift>T' or 'Ctrl+Alt+S' [default: <Super><Shift>T]."
    ),
) -> int:
    """Add the mcv entries (idempotent: run it again after moving mcv)."""
    from mcv.plugins.install.engine import install as run_install

    context = _context(ctx, mcv_path)
    if key is not None or "shortcut" in (targets or []):
        context = _shortcut_context(context, list(targets or []), key)
    _print(ctx, run_install(context, list(targets or []), dry_run=dry_run, force=force))
    if not dry_run:
        _print(ctx, [f"entries run: {' '.join(context.launcher)}"])
    return 0


def _shortcut_context(context, targets: list[str], key: str | None):
    """--key belongs to the `shortcut` target, which needs a desktop it knows."""
    import dataclasses

    from mcv.errors import UsageError
    from mcv.plugins.install.shortcut_keys import Key
    from mcv.plugins.install.targets import shortcut

    if "shortcut" not in targets:
        raise UsageError("--key is for the shortcut target", hint="mcv plugins install shortcut --key '<Super><Shift>T'")
    if key is not None:
        Key.parse(key)  # a bad key is a usage error before anything is written
    absent = shortcut.detect(context)
    if absent is not None:
        raise UsageError(absent)
    return dataclasses.replace(context, options={**context.options, "key": key} if key is not None else context.options)


@app.command("uninstall")
def uninstall(
    ctx: typer.Context,
    targets: Optional[List[str]] = typer.Argument(None, metavar="[TARGET]...", help="Targets (default: every installed one)."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="List every file it would remove; change nothing."),
    force: bool = typer.Option(False, "--force", help="Also remove mcv's files that were changed since they were written."),
) -> int:
    """Remove what `mcv plugins install` added, and only that."""
    from mcv.plugins.install.engine import uninstall as run_uninstall

    _print(ctx, run_uninstall(_context(ctx), list(targets or []), dry_run=dry_run, force=force))
    return 0


@app.command("status")
def status(
    ctx: typer.Context,
    targets: Optional[List[str]] = typer.Argument(None, metavar="[TARGET]...", help="Targets (default: all)."),
) -> int:
    """Each target's files and whether they are as mcv would write them now (a target never
    installed is one line, unless it is named: then the files it would write are listed)."""
    from mcv.plugins.install.engine import status as run_status

    for target in run_status(_context(ctx), list(targets or [])):
        found = "" if target.absent is None else f" ({target.absent})"
        files = target.files if targets or target.state != "not installed" else ()
        _print(ctx, [f"{target.name}: {target.state}{found}"] + [f"  {state:<9} {what}" for what, state in files])
    return 0
