"""`mcv batch PATH|GLOB... (--preset NAME | --prompt TEXT)`: the options, parsed into the core's
BatchJob here (once); the core batch engine works, batch_view.py shows it."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mcv.cli import common_options as common

BATCH_HELP = """Run one task over many images: folders, globs, PDFs page by page.

Folders are walked recursively; what a file is comes from its first bytes.
Results are JSONL on stdout (or --output FILE; --csv for CSV), one record per
image or PDF page, in the order the answers arrive: path, sha256, answer (and
data for JSON tasks), error, metrics, model, preset, task. Originals are never
written to, nor is a sidecar mcv did not write (unless --overwrite).

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
    preset: Optional[str] = common.PRESET,
    prompt: Optional[str] = typer.Option(None, "--prompt", help="The question (after the preset's, with --preset)."),
    output: Optional[Path] = typer.Option(None, "--output", metavar="FILE", help="Append the records to FILE instead of stdout."),
    csv: bool = typer.Option(False, "--csv", help="Records as CSV instead of JSONL."),
    resume: bool = typer.Option(
        False, "--resume", help="Continue --output: images answered there (by content hash) are not asked again."
    ),
    sidecar: Optional[str] = typer.Option(None, "--sidecar", metavar="txt|json", help="Write IMAGE.txt or IMAGE.json beside each image."),
    xmp: bool = typer.Option(False, "--xmp", help="Write the answer into an XMP sidecar (merged into an existing one)."),
    xmp_name: str = typer.Option(
        "stem", "--xmp-name", metavar="stem|full", help="XMP sidecar names: photo.xmp (stem: digiKam, Lightroom) or photo.jpg.xmp (full: darktable)."
    ),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Replace IMAGE.txt / IMAGE.json files that mcv did not write (kept and reported otherwise)."
    ),
    jobs: Optional[int] = typer.Option(
        None, "--jobs", "-j", help="Requests in flight [default: one more than the daemon's parallel slots, OLLAMA_NUM_PARALLEL or 1; OpenAI servers: their openai.slots together; in process: 1]."
    ),
    host: Optional[List[str]] = typer.Option(None, "--host", help="Ollama host; repeat to spread the work over several daemons."),
    model: Optional[str] = common.MODEL,
    backend: Optional[str] = common.BACKEND,
    base_url: Optional[List[str]] = common.BASE_URL,
    system: Optional[str] = common.SYSTEM,
    temperature: Optional[float] = common.TEMPERATURE,
    option: Optional[List[str]] = common.OPTION,
    keep_alive: Optional[str] = common.KEEP_ALIVE,
    schema: Optional[str] = common.SCHEMA,
    think: Optional[bool] = common.THINK,
    pages: str = typer.Option("all", "--pages", help="PDF pages of each PDF, e.g. 1-3,5."),
    max_pixels: Optional[int] = common.MAX_PIXELS,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress: only the summary and the failures, on stderr."),
) -> int:
    from mcv.cli.batch_view import run_batch_job
    from mcv.core.arguments import load_schema, parse_options
    from mcv.core.batch import BatchJob
    from mcv.core.presets import find_preset
    from mcv.core.settings import Settings
    from mcv.errors import UsageError
    from mcv.packaging.local_pairs import SOURCES
    from mcv.packaging.state import state_dir

    if xmp_name not in ("stem", "full"):
        raise typer.BadParameter("stem or full", param_hint="--xmp-name")
    if sidecar not in (None, "txt", "json"):
        raise typer.BadParameter("txt or json", param_hint="--sidecar")
    if jobs is not None and jobs < 1:
        raise typer.BadParameter("at least 1", param_hint="--jobs")
    if not preset and not (prompt and prompt.strip()):
        raise UsageError("say what to ask: --preset NAME or --prompt TEXT", hint="see `mcv presets ls`")
    env = ctx.obj
    flags = common.config_flags(
        model=model, host=None, backend=backend, system=system, temperature=temperature,
        keep_alive=keep_alive, max_pixels=max_pixels, base_url=base_url,
    )  # fmt: skip
    settings = Settings.load(env.environ, flags=flags, pair_sources=SOURCES)
    job = BatchJob(
        inputs=list(paths),
        preset=find_preset(settings.config, preset) if preset else None,
        prompt=prompt,
        options=parse_options(list(option or [])),
        schema=load_schema(schema) if schema is not None else None,
        changes={"think": think},
        hosts=list(host or []),
        jobs=jobs,
        pages=pages,
        output=output,
        fmt="csv" if csv else "jsonl",
        resume=resume,
        sidecar=sidecar,
        xmp=xmp,
        xmp_naming=xmp_name,
        overwrite=overwrite,
        ledger=state_dir(env.environ) / "sidecars-written",
    )
    return run_batch_job(env, settings, job, quiet=quiet)
