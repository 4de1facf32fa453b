"""`mcv history ls | show ID | rm ID | export ID [--format md|json] | prune --older-than AGE | path`:
the chats and asks kept in SQLite."""

from __future__ import annotations

from typing import Optional

import typer

from mcv.errors import UsageError

app = typer.Typer(
    help="Chats and asks kept in the history (images included). Turn logging off with "
    "`mcv config set history.log false`, or --no-log per command.",
    no_args_is_help=True,
)


def _history(ctx: typer.Context, *, readonly: bool = True):
    from mcv.core.history import History, history_path

    if readonly and not history_path(ctx.obj.environ).exists():
        return None
    return History.open(ctx.obj.environ, readonly=readonly)


@app.command("ls")
def ls(
    ctx: typer.Context,
    limit: int = typer.Option(20, "--limit", "-n", help="How many, newest first (0 = all)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only `chat` or only `ask`."),
) -> int:
    """List conversations, newest first."""
    env = ctx.obj
    _check_kind(kind)
    if limit < 0:
        raise UsageError("--limit is a number of conversations (0 = all)")
    history = _history(ctx)
    if history is None:
        env.stderr.write("mcv: the history is empty\n")
        return 0
    with history:
        summaries = history.summaries(limit=limit or None, kind=kind)
    if not summaries:
        env.stderr.write("mcv: the history is empty\n")
        return 0
    env.stdout.write(f"{'ID':>5}  {'KIND':<4}  {'UPDATED':<20}  {'MODEL':<22}  {'MSGS':>4}  {'IMGS':>4}  TITLE\n")
    for s in summaries:
        model = (s.model or "-")[:22]
        env.stdout.write(
            f"{s.id:>5}  {s.kind:<4}  {s.updated_at:<20}  {model:<22}  {s.messages:>4}  {s.images:>4}  {s.title}\n"
        )
    return 0


@app.command("show")
def show(ctx: typer.Context, number: int = typer.Argument(..., metavar="ID")) -> int:
    """Print one conversation (images by name and size; `export` includes their bytes)."""
    env = ctx.obj
    record = _read(ctx, number)
    summary, transcript = record.summary, record.transcript
    env.stdout.write(f"# {summary.id} · {summary.kind} · {summary.model or '-'} · {summary.updated_at}\n")
    if transcript.system:
        env.stdout.write(f"\nSystem: {transcript.system}\n")
    for message in transcript.messages:
        who = "You" if message.role == "user" else (summary.model or "model")
        mark = " (interrupted)" if message.interrupted else ""
        env.stdout.write(f"\n## {who}{mark}\n")
        for image in message.images:
            env.stdout.write(f"[image: {image.label}, {image.width}x{image.height}]\n")
        env.stdout.write(message.content + "\n")
    for image in transcript.pending:
        env.stdout.write(f"\n[waiting: {image.label}, {image.width}x{image.height}]\n")
    if record.draft:
        env.stdout.write(f"\n(unsent: {record.draft})\n")
    return 0


@app.command("rm")
def rm(ctx: typer.Context, number: int = typer.Argument(..., metavar="ID")) -> int:
    """Delete one conversation (and the images no other conversation uses)."""
    from mcv.core.history import History

    with History.open(ctx.obj.environ) as history:
        summary = history.delete(number)
    ctx.obj.stderr.write(f"mcv: deleted {summary.kind} {summary.id}: {summary.title}\n")
    return 0


@app.command("export")
def export(
    ctx: typer.Context,
    number: int = typer.Argument(..., metavar="ID"),
    format: str = typer.Option("md", "--format", "-f", help="md (Markdown) or json; both include the images."),
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write to FILE instead of standard output."),
) -> int:
    """A conversation as a file `mcv chat` can /load: Markdown or JSON, images included."""
    from mcv.core.transcript import to_json, to_markdown

    if format not in ("md", "json"):
        raise UsageError(f"--format is md or json, not {format!r}")
    transcript = _read(ctx, number).transcript
    text = to_json(transcript) if format == "json" else to_markdown(transcript)
    if output is None:
        ctx.obj.stdout.write(text)
        return 0
    from pathlib import Path

    from mcv.core.atomic import write_atomically

    target = Path(output).expanduser()
    if target.exists():
        raise UsageError(f"{target} exists: not replacing it", hint="choose another file name")
    try:
        write_atomically(target, text)
    except OSError as err:
        raise UsageError(f"cannot write {target}: {err.strerror or err}") from None
    ctx.obj.stderr.write(f"mcv: wrote {target}\n")
    return 0


@app.command("prune")
def prune(
    ctx: typer.Context,
    older_than: str = typer.Option(..., "--older-than", metavar="AGE", help="Age of the last change: 30d, 12w, 6m (months), 1y."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only `chat` or only `ask`."),
) -> int:
    """Delete conversations not changed for AGE, and the images only they used; the file shrinks."""
    from datetime import datetime, timezone

    from mcv.core.history import History, history_path
    from mcv.core.units import format_bytes

    _check_kind(kind)
    age = _age(older_than)
    if not history_path(ctx.obj.environ).exists():
        ctx.obj.stderr.write("mcv: the history is empty\n")
        return 0
    with History.open(ctx.obj.environ) as history:
        deleted, freed = history.prune(before=datetime.now(timezone.utc) - age, kind=kind)
    what = f"{kind}s" if kind else "conversations"
    ctx.obj.stderr.write(f"mcv: deleted {deleted} {what} older than {older_than}; the file shrank by {format_bytes(freed)}\n")
    return 0


def _age(text: str):
    """`30d`, `12w`, `6m` (30-day months), `1y`, `48h` -> a timedelta; UsageError otherwise."""
    import re
    from datetime import timedelta

    match = re.fullmatch(r"\s*(\d+)\s*([hdwmy])\s*", text.lower())
    if match is None:
        raise UsageError(f"--older-than takes an age like 30d, 12w, 6m or 1y, not {text!r}")
    hours = {"h": 1, "d": 24, "w": 24 * 7, "m": 24 * 30, "y": 24 * 365}[match.group(2)]
    return timedelta(hours=int(match.group(1)) * hours)


def _check_kind(kind: str | None) -> None:
    if kind is not None and kind not in ("chat", "ask"):
        raise UsageError(f"--kind is chat or ask, not {kind!r}")


@app.command("path")
def path(ctx: typer.Context) -> int:
    """Where the history database is."""
    from mcv.core.history import history_path

    ctx.obj.stdout.write(f"{history_path(ctx.obj.environ)}\n")
    return 0


def _read(ctx, number: int):
    from mcv.core.history import HistoryError

    history = _history(ctx)
    if history is None:
        raise HistoryError(f"no conversation {number} in the history (it is empty)")
    with history:
        return history.read(number)
