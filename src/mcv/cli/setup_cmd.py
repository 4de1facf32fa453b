"""`mcv setup`: make the default model usable (idempotent)."""

from __future__ import annotations

from typing import Optional

import typer

SETUP_HELP = """Make the default model usable; a second run does nothing.

\b
With Ollama running: the model is there -> done; else it is created from a
GGUF pair already in the Hugging Face cache, fetched from Hugging Face
(--generation), or pulled from the Ollama library.
Without Ollama: the GGUF pair for the in-process engine is found in Ollama's
store or the Hugging Face cache, or downloaded (default generation 2.5).
"""


def register(app: typer.Typer) -> None:
    app.command("setup", help=SETUP_HELP)(setup)


def setup(
    ctx: typer.Context,
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name [default: minicpm-v, or config]."),
    host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
    generation: Optional[str] = typer.Option(None, "--generation", "-g", help="MiniCPM-V generation, e.g. 2.5."),
    quant: Optional[str] = typer.Option(None, "--quant", "-q", help="Quantisation, e.g. Q4_K_M."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask before downloading."),
) -> None:
    from mcv.cli.model_flow import confirm
    from mcv.cli.transfer_ui import reporter_for
    from mcv.packaging.setup import SetupOptions, run_setup

    env = ctx.obj
    interactive = env.stdin_isatty and env.stderr_isatty
    reporter = reporter_for(env)
    try:
        result = run_setup(
            env.environ,
            SetupOptions(model=model, host=host, generation=generation, quant=quant, yes=yes),
            reporter=reporter,
            confirm=(lambda question: confirm(env, question)) if interactive else None,
        )
    finally:
        reporter.close()
    if result.changed:
        for action in result.actions:
            env.stdout.write(f"{action}\n")
    else:
        env.stdout.write("nothing to do: already set up\n")
    for line in result.advice:
        env.stdout.write(f"{line}\n")
