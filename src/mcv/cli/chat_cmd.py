"""`mcv chat [IMAGE...]`: options here; cli/chat/ runs the chat over the core session."""

from __future__ import annotations

from typing import List, Optional

import typer

from mcv.cli import common_options as common

CHAT_HELP = """Chat about images in the terminal.

Images named here (and --clipboard's) are attached to your first message;
with --preset, its question about them is asked at once. In the chat, type
a question and press Enter; /image PATH (or a file dropped onto the
terminal) attaches more without sending; /help lists every command.
Answers stream as Markdown; Ctrl-C stops one, Ctrl-D leaves. Every chat is
kept in the history (`mcv history`); --continue resumes the last one, or
chat ID, with its options (/set) and thinking (/think).

\b
Examples:
  mcv chat receipt.jpg
  mcv chat --continue
  mcv chat --continue 12
  mcv chat -p ocr scan.png
  mcv chat -m ~/models/ggml-model-Q4_K_M.gguf screenshot.png
"""


def register(app: typer.Typer) -> None:
    app.command("chat", help=CHAT_HELP)(chat)


def chat(
    ctx: typer.Context,
    images: Optional[List[str]] = typer.Argument(None, metavar="[IMAGE...]", show_default=False),
    model: Optional[str] = common.MODEL,
    host: Optional[List[str]] = common.HOSTS,
    backend: Optional[str] = common.BACKEND,
    base_url: Optional[List[str]] = common.BASE_URL,
    resume: bool = typer.Option(
        False, "--continue", help="Resume the last chat, or chat ID given as the first argument (`--continue 12`)."
    ),
    system: Optional[str] = common.SYSTEM,
    temperature: Optional[float] = common.TEMPERATURE,
    option: Optional[List[str]] = common.OPTION,
    keep_alive: Optional[str] = common.KEEP_ALIVE,
    preset: Optional[str] = common.PRESET,
    think: Optional[bool] = common.THINK,
    clipboard: bool = common.CLIPBOARD,
    max_pixels: Optional[int] = common.MAX_PIXELS,
    no_preview: bool = typer.Option(False, "--no-preview", help="No image thumbnails (never drawn when piped)."),
    plain: bool = common.PLAIN,
    no_log: bool = common.NO_LOG,
) -> int:
    from mcv.cli.chat.run import run_chat

    flags = common.config_flags(
        model=model, host=host, backend=backend, system=system, temperature=temperature,
        keep_alive=keep_alive, max_pixels=max_pixels, plain=plain, no_log=no_log, base_url=base_url,
    )
    return run_chat(
        ctx.obj,
        list(images or []),
        flags={**flags, "chat.preview": "off" if no_preview else None},
        changes={"think": think},
        options=list(option or []),
        resume=resume,
        preset=preset,
        clipboard=clipboard,
    )
