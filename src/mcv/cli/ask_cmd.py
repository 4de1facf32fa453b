"""`mcv ask [OPTIONS] IMAGE... [PROMPT]`: options here; ask_flow.py builds the request, the core session answers."""

from __future__ import annotations

from typing import List, Optional

import typer

from mcv.cli import common_options as common

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
  mcv ask --prompt "total" -- receipt.jpg     (with --prompt, every argument is an image)

\b
Exit codes: 0 ok, 1 model or server error, 2 bad usage or input, 130 interrupted.
"""


def register(app: typer.Typer) -> None:
    app.command("ask", help=ASK_HELP, no_args_is_help=True)(ask)


def ask(
    ctx: typer.Context,
    arguments: Optional[List[str]] = typer.Argument(None, metavar="IMAGE... [PROMPT]", show_default=False),
    model: Optional[str] = common.MODEL,
    host: Optional[List[str]] = common.HOSTS,
    backend: Optional[str] = common.BACKEND,
    base_url: Optional[List[str]] = common.BASE_URL,
    system: Optional[str] = common.SYSTEM,
    temperature: Optional[float] = common.TEMPERATURE,
    option: Optional[List[str]] = common.OPTION,
    keep_alive: Optional[str] = common.KEEP_ALIVE,
    schema: Optional[str] = common.SCHEMA,
    preset: Optional[str] = common.PRESET,
    prompt: Optional[str] = typer.Option(
        None, "--prompt", metavar="TEXT",
        help="The question, given apart: every argument is then an image (a question naming a file stays a question).",
    ),
    think: Optional[bool] = common.THINK,
    clipboard: bool = common.CLIPBOARD,
    pages: Optional[str] = typer.Option(None, "--pages", help="PDF pages, e.g. 1-3,5 [default: 1]."),
    max_pixels: Optional[int] = common.MAX_PIXELS,
    no_stream: bool = typer.Option(False, "--no-stream", help="Wait for the whole answer, then print it."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object: answer, model, metrics."),
    plain: bool = common.PLAIN,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Image notes and metrics on stderr."),
    no_log: bool = common.NO_LOG,
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
        flags=common.config_flags(
            model=model, host=host, backend=backend, system=system, temperature=temperature,
            keep_alive=keep_alive, max_pixels=max_pixels, plain=plain, no_log=no_log, base_url=base_url,
        ),
        changes={"think": think, "stream": not no_stream},
        options=list(option or []),
        schema=schema,
        preset=preset,
        prompt=prompt,
        clipboard=clipboard,
        pages=pages,
        make_view=make_view,
    )
