"""`mcv ask [OPTIONS] IMAGE... [PROMPT]`: options here; ask_flow.py builds the request, the core session answers."""

from __future__ import annotations

from typing import List, Optional

import typer

from mcv.core.backends.registry import describe_choices

ASK_HELP = """Ask about one or more images.

Arguments that name an existing file, an http(s) URL or `-` (standard input)
are images; the remaining words are the prompt (default: describe the image).

\b
Examples:
  mcv ask receipt.jpg "read the total"
  mcv ask https://example.com/cat.webp
  mcv ask --clipboard what is this error
  cat scan.pdf | mcv ask - --pages 1-2 "summarise"
  mcv ask receipt.jpg --preset receipt

\b
Exit codes: 0 ok, 1 model or server error, 2 bad usage or input, 130 interrupted.
"""


def register(app: typer.Typer) -> None:
    app.command("ask", help=ASK_HELP, no_args_is_help=True)(ask)


def ask(
    ctx: typer.Context,
    arguments: Optional[List[str]] = typer.Argument(None, metavar="IMAGE... [PROMPT]", show_default=False),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Model name, or a GGUF file or folder to run in process [default: config `model`, minicpm-v]."
    ),
    host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help=describe_choices() + "."),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Sampling temperature."),
    option: Optional[List[str]] = typer.Option(
        None, "--option", "-o", metavar="KEY=VALUE", help="Ollama option, repeatable (e.g. num_ctx=8192)."
    ),
    keep_alive: Optional[str] = typer.Option(None, "--keep-alive", help="Keep the model loaded (5m, 1h, -1)."),
    schema: Optional[str] = typer.Option(
        None, "--schema", help="Constrain the answer to JSON: a schema (inline, a file, or shorthand like 'total float, date'), or `json`."
    ),
    preset: Optional[str] = typer.Option(
        None, "--preset", "-p", help="Task preset: describe, caption, alt, ocr, table, receipt, tags, or your own (`mcv presets ls`)."
    ),
    think: Optional[bool] = typer.Option(
        None, "--think/--no-think", help="Let a thinking model (e.g. MiniCPM-V 4.5) reason first [default: off]."
    ),
    clipboard: bool = typer.Option(False, "--clipboard", "-c", help="Add the image on the clipboard."),
    pages: Optional[str] = typer.Option(None, "--pages", help="PDF pages, e.g. 1-3,5 [default: 1]."),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget for each image."),
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer, then print it."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: answer, model, metrics."),
    plain: bool = typer.Option(False, "--plain", help="Never render Markdown, even on a terminal."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Image notes and metrics on stderr."),
    no_log: bool = typer.Option(False, "--no-log", help="Keep this answer out of the history (`mcv history`)."),
) -> int:
    from mcv.cli.ask_flow import run_ask

    def make_view(markdown: bool, checked: bool = False):
        from mcv.cli.render.turn import TurnView  # imported while the images prepare

        return TurnView(
            ctx.obj, as_json=as_json, markdown=markdown, verbose=verbose, show_thinking=bool(think), checked=checked
        )

    return run_ask(
        ctx.obj,
        list(arguments or []),
        # Command-line values of config keys: they beat the environment and the file.
        flags={
            "model": model,
            "host": host,
            "backend": backend,
            "system": system,
            "temperature": temperature,
            "keep_alive": keep_alive,
            "images.max_pixels": max_pixels,
            "render.markdown": False if plain else None,
            "history.log": False if no_log else None,
        },
        changes={"think": think, "stream": not no_stream},
        options=list(option or []),
        schema=schema,
        preset=preset,
        clipboard=clipboard,
        pages=pages,
        make_view=make_view,
    )
