"""`mcv snap [--preset NAME | --prompt TEXT] [--notify|--dialog|--clipboard|--print] [--screen|--window]`:
options only; mcv/plugins/snap/run.py captures and asks."""

from __future__ import annotations

from typing import Optional

import typer

SNAP_HELP = """Pick a piece of the screen and ask MiniCPM-V about it (made for a global shortcut:
`mcv plugins install shortcut`).

The region is picked with the desktop's own tool: maim, scrot or ImageMagick's
`import` on X11; slurp + grim on sway and Hyprland; the screenshot portal on
GNOME and KDE under Wayland (or spectacle); `screencapture -i` on macOS; the
screen-clip overlay on Windows. By default the text in it (the `ocr` preset)
goes to the clipboard, and a notification shows it.

\b
Exit codes: 0 done, 1 the model or server failed, 2 bad usage or no capture
tool (a dialog says what to install), 4 the picker was cancelled (Esc):
nothing is shown.

\b
Examples:
  mcv snap                                  # the text in a region -> clipboard
  mcv snap --preset describe --dialog
  mcv snap --prompt "what is this error?" --notify
  mcv snap --screen --print
"""


def register(app: typer.Typer) -> None:
    app.command("snap", help=SNAP_HELP)(snap)


def snap(
    ctx: typer.Context,
    preset: Optional[str] = typer.Option(None, "--preset", "-p", help="What to ask (`mcv presets ls`) [default: ocr]."),
    prompt: Optional[str] = typer.Option(None, "--prompt", help="Your own question (after the preset's prompt when both are given)."),
    notify: bool = typer.Option(False, "--notify", help="The answer in a notification (a long one in a dialog)."),
    dialog: bool = typer.Option(False, "--dialog", help="The answer in a dialog."),
    clipboard: bool = typer.Option(False, "--clipboard", help="The answer on the clipboard, and a notification [default]."),
    print_: bool = typer.Option(False, "--print", help="The answer on standard output, errors on stderr."),
    screen: bool = typer.Option(False, "--screen", help="The whole screen, no picker."),
    window: bool = typer.Option(False, "--window", help="The active window, no picker (where the desktop allows)."),
    geometry: Optional[str] = typer.Option(None, "--geometry", metavar="WxH+X+Y", help="This rectangle of the screen, no picker."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name [default: config `model`]."),
    host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
) -> int:
    from mcv.errors import UsageError
    from mcv.plugins.snap.run import run_snap

    outputs = [name for name, on in (("notify", notify), ("dialog", dialog), ("clipboard", clipboard), ("print", print_)) if on]
    if len(outputs) > 1:
        raise UsageError("choose one of --notify, --dialog, --clipboard and --print")
    modes = [name for name, on in (("screen", screen), ("window", window), ("geometry", geometry is not None)) if on]
    if len(modes) > 1:
        raise UsageError("choose one of --screen, --window and --geometry")
    if prompt is not None and not prompt.strip():
        raise UsageError("--prompt needs some words")
    return run_snap(
        ctx.obj,
        mode=modes[0] if modes else "region",
        preset=preset,
        prompt=prompt,
        output=outputs[0] if outputs else None,
        flags={"model": model, "host": host},
        geometry=geometry,
    )
