"""`mcv batch PATH|GLOB... (--preset NAME | --prompt TEXT)`: options here; the core batch engine works, batch_view.py shows it."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mcv.core.backends.registry import describe_choices

BATCH_HELP = """Run one task over many images: folders, globs, PDFs page by page.

Folders are walked recursively; what a file is comes from its first bytes.
Results are JSONL on stdout (or --output FILE; --csv for CSV), one record per
image or PDF page: path, sha256, answer (and data for JSON tasks), metrics,
error. Originals are never written to.

\b
Examples:
  mcv batch photos/ --preset alt --xmp            # alt text into photo.xmp sidecars
  mcv batch scans/*.pdf --preset ocr --sidecar txt
  mcv batch receipts/ --preset receipt --output receipts.jsonl --resume
  mcv batch shots/ --prompt "What app is this?" --csv > apps.csv

\b
Exit codes: 0 every image answered (non-images in folders are skipped),
3 some failed (listed at the end), 1 model or server error, 2 bad usage,
130 interrupted (what was answered is kept; --resume continues).
"""


def register(app: typer.Typer) -> None:
    app.command("batch", help=BATCH_HELP, no_args_is_help=True)(batch)


def batch(
    ctx: typer.Context,
    paths: List[str] = typer.Argument(..., metavar="PATH|GLOB...", show_default=False),
    preset: Optional[str] = typer.Option(
        None, "--preset", "-p", help="Task preset: describe, caption, alt, ocr, table, receipt, tags, or your own."
    ),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="The question (after the preset's, with --preset)."),
    output: Optional[Path] = typer.Option(None, "--output", metavar="FILE", help="Append the records to FILE instead of stdout."),
    csv: bool = typer.Option(False, "--csv", help="Records as CSV instead of JSONL."),
    resume: bool = typer.Option(False, "--resume", help="Skip images already answered in --output (by content hash)."),
    sidecar: Optional[str] = typer.Option(None, "--sidecar", metavar="txt|json", help="Write IMAGE.txt or IMAGE.json beside each image."),
    xmp: bool = typer.Option(False, "--xmp", help="Write the answer into an XMP sidecar (merged into an existing one)."),
    xmp_name: str = typer.Option(
        "stem", "--xmp-name", metavar="stem|full", help="XMP sidecar names: photo.xmp (stem: digiKam, Lightroom) or photo.jpg.xmp (full: darktable)."
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", help="Requests in flight [default: one more than the daemon's parallel slots, OLLAMA_NUM_PARALLEL or 1; in process: 1]."
    ),
    host: Optional[List[str]] = typer.Option(None, "--host", help="Ollama host; repeat to spread the work over several daemons."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name, or a GGUF file or folder [default: config `model`]."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help=describe_choices() + "."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Sampling temperature."),
    option: Optional[List[str]] = typer.Option(None, "--option", "-o", metavar="KEY=VALUE", help="Ollama option, repeatable."),
    keep_alive: Optional[str] = typer.Option(None, "--keep-alive", help="Keep the model loaded (5m, 1h, -1)."),
    schema: Optional[str] = typer.Option(None, "--schema", help="Constrain answers to JSON: a schema (inline, file, or shorthand), or `json`."),
    think: Optional[bool] = typer.Option(None, "--think/--no-think", help="Let a thinking model reason first [default: off]."),
    pages: str = typer.Option("all", "--pages", help="PDF pages of each PDF, e.g. 1-3,5."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget for each image [default: the preset's]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only the summary and failures on stderr."),
) -> int:
    from mcv.cli.batch_view import run_batch_command

    if xmp_name not in ("stem", "full"):
        raise typer.BadParameter("stem or full", param_hint="--xmp-name")
    if sidecar not in (None, "txt", "json"):
        raise typer.BadParameter("txt or json", param_hint="--sidecar")
    if jobs is not None and jobs < 1:
        raise typer.BadParameter("at least 1", param_hint="--jobs")
    return run_batch_command(
        ctx.obj,
        flags={
            "model": model,
            "backend": backend,
            "system": system,
            "temperature": temperature,
            "keep_alive": keep_alive,
            "images.max_pixels": max_pixels,
        },
        paths=list(paths),
        preset=preset,
        prompt=prompt,
        options=list(option or []),
        schema=schema,
        think=think,
        hosts=list(host or []),
        jobs=jobs,
        pages=pages,
        output=output,
        fmt="csv" if csv else "jsonl",
        resume=resume,
        sidecar=sidecar,
        xmp=xmp,
        xmp_naming=xmp_name,
        quiet=quiet,
    )
