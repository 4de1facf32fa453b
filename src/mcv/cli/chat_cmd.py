"""`mcv chat [IMAGE...]`: options here; cli/chat/ runs the chat over the core session."""

from __future__ import annotations

from typing import List, Optional

import typer

from mcv.core.backends.registry import describe_choices

CHAT_HELP = """Chat about images in the terminal.

Images named here are attached to your first message. In the chat, type a
question and press Enter; /image PATH (or a file dropped onto the terminal)
attaches more without sending; /help lists every command. Answers stream
as Markdown; Ctrl-C stops one, Ctrl-D leaves. Every chat is kept in the
history (`mcv history`); --continue resumes the last one, or chat ID.

\b
Examples:
  mcv chat receipt.jpg
  mcv chat --continue
  mcv chat --continue 12
  mcv chat -m ~/models/ggml-model-Q4_K_M.gguf screenshot.png
"""


def register(app: typer.Typer) -> None:
    app.command("chat", help=CHAT_HELP)(chat)


def chat(
    ctx: typer.Context,
    images: Optional[List[str]] = typer.Argument(None, metavar="[IMAGE...]", show_default=False),
    model: Optional[str] = typer.Option(
        None, "--model", "-m", help="Model name, or a GGUF file or folder to run in process [default: config `model`, minicpm-v]."
    ),
    host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
    backend: Optional[str] = typer.Option(None, "--backend", "-b", help=describe_choices() + "."),
    resume: bool = typer.Option(
        False, "--continue", "-c", help="Resume the last chat, or chat ID given as the first argument (`--continue 12`)."
    ),
    system: Optional[str] = typer.Option(None, "--system", "-s", help="System prompt."),
    temperature: Optional[float] = typer.Option(None, "--temperature", "-t", help="Sampling temperature."),
    option: Optional[List[str]] = typer.Option(
        None, "--option", "-o", metavar="KEY=VALUE", help="Ollama option, repeatable (e.g. num_ctx=8192); /set changes them."
    ),
    keep_alive: Optional[str] = typer.Option(None, "--keep-alive", help="Keep the model loaded (5m, 1h, -1)."),
    think: Optional[bool] = typer.Option(
        None, "--think/--no-think", help="Let a thinking model (e.g. MiniCPM-V 4.5) reason first [default: off]."
    ),
    max_pixels: Optional[int] = typer.Option(None, "--max-pixels", help="Pixel budget for each image."),
    no_preview: bool = typer.Option(False, "--no-preview", help="No image thumbnails (never drawn when piped)."),
    plain: bool = typer.Option(False, "--plain", help="Never render Markdown, even on a terminal."),
    no_log: bool = typer.Option(False, "--no-log", help="Keep this chat out of the history."),
) -> int:
    from mcv.cli.chat.run import run_chat

    return run_chat(
        ctx.obj,
        list(images or []),
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
            "chat.preview": "off" if no_preview else None,
        },
        changes={"think": think},
        options=list(option or []),
        resume=resume,
    )
