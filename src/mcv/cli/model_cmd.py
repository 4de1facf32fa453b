"""`mcv model …`: package GGUF pairs for Ollama, get weights, list and inspect models.

Options only; the work is in mcv.cli.model_flow (imported inside each command
so `mcv --help` stays fast).
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(
    help="Package MiniCPM-V GGUF pairs for Ollama; pull, fetch, list, inspect models.",
    no_args_is_help=True,
)

HOST_HELP = "Ollama host (overrides OLLAMA_HOST and the config)."


@app.command("modelfile")
def modelfile_command(
    ctx: typer.Context,
    llm: Path = typer.Argument(..., help="The LLM GGUF (e.g. ggml-model-Q4_K_M.gguf)."),
    mmproj: Path = typer.Argument(..., help="The projector GGUF (e.g. mmproj-model-f16.gguf)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write DIR/Modelfile instead of stdout."),
    bundle: bool = typer.Option(
        False, "--bundle", help="Also put both GGUFs (hard links) and SHA256SUMS in DIR: a movable folder."
    ),
    force: bool = typer.Option(False, "--force", "-f", help="Replace different files already in DIR."),
) -> None:
    """Write the Modelfile for a GGUF pair (stdout, or DIR/Modelfile with -o).

    \b
    `ollama create NAME -f DIR/Modelfile` then builds the model; with --bundle
    the folder holds everything it needs and can be moved or copied anywhere.
    """
    from mcv.cli import model_flow

    model_flow.modelfile(ctx.obj, llm, mmproj, output=output, bundle=bundle, force=force)


@app.command("create")
def create_command(
    ctx: typer.Context,
    arguments: List[str] = typer.Argument(..., metavar="[NAME] LLM MMPROJ | [NAME] FOLDER", show_default=False),
    force: bool = typer.Option(False, "--force", "-f", help="Replace a model of that name with other contents."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print what would be sent; change nothing."),
    rehash: bool = typer.Option(False, "--rehash", help="Hash the files again even if mcv hashed them before."),
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
) -> None:
    """Create an Ollama vision model from a GGUF pair.

    \b
    NAME defaults to minicpm-v. Without a tag two names are made: the precise
    NAME:<generation>-<quant> (e.g. minicpm-v:2.5-q4_K_M) and NAME:latest, so
    `ollama run minicpm-v` works. Only blobs Ollama lacks are uploaded; an
    existing model with other contents is kept unless --force.
    """
    from mcv.cli import model_flow

    model_flow.create(ctx.obj, arguments, force=force, dry_run=dry_run, rehash=rehash, host=host)


@app.command("pull")
def pull_command(
    ctx: typer.Context,
    name: Optional[str] = typer.Argument(None, help="Library model to pull [default: config `model`, minicpm-v]."),
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
) -> None:
    """Pull a model from the Ollama library (default: the configured model, minicpm-v)."""
    from mcv.cli import model_flow

    model_flow.pull(ctx.obj, name, host=host)


@app.command("fetch")
def fetch_command(
    ctx: typer.Context,
    generation: Optional[str] = typer.Argument(None, help="Generation: 2.5, 2.6, o-2.6, 4.0, 4.5, 4.6 [default: 2.5]."),
    quant: Optional[str] = typer.Option(
        None, "--quant", "-q", help="Quantisation, e.g. Q4_K_M or q8_0 (as the repo's file names carry it) [default: Q4_K_M]."
    ),
    create: Optional[bool] = typer.Option(
        None, "--create/--no-create", help="Create the Ollama model afterwards [default: ask on a terminal]."
    ),
    name: Optional[str] = typer.Option(None, "--name", help="Model name for --create [default: minicpm-v]."),
    force: bool = typer.Option(False, "--force", "-f", help="With --create: replace a different model."),
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
) -> None:
    """Download a generation's GGUF pair from Hugging Face (into its cache).

    \b
    The repo is listed and the files picked by role: the projector is the GGUF
    named *mmproj* (F16 preferred), the LLM the other GGUF of the quantisation.
    """
    from mcv.cli import model_flow

    model_flow.fetch(ctx.obj, generation, quant=quant, create=create, name=name, force=force, host=host)


@app.command("path")
def path_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name, e.g. minicpm-v or minicpm-v:2.5-q4_K_M."),
    models_dir: Optional[Path] = typer.Option(
        None, "--models-dir", help="Ollama's store [default: OLLAMA_MODELS or ~/.ollama/models]."
    ),
) -> None:
    """Print the LLM and projector files of a model in Ollama's store (two lines)."""
    from mcv.cli import model_flow

    model_flow.path(ctx.obj, name, models_dir=models_dir)


@app.command("ls")
def ls_command(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List Ollama's models; vision models are marked."""
    from mcv.cli import model_flow

    model_flow.ls(ctx.obj, host=host, as_json=as_json)


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="Model name."),
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a model: generation, capabilities, projector, template, parameters."""
    from mcv.cli import model_flow

    model_flow.show(ctx.obj, name, host=host, as_json=as_json)


@app.command("rm")
def rm_command(
    ctx: typer.Context,
    names: List[str] = typer.Argument(..., help="Model name(s)."),
    host: Optional[str] = typer.Option(None, "--host", help=HOST_HELP),
) -> None:
    """Remove models from Ollama."""
    from mcv.cli import model_flow

    model_flow.rm(ctx.obj, names, host=host)
