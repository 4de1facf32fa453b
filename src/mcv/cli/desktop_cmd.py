"""`mcv describe | ocr | alt | ask-dialog [--notify|--dialog|--clipboard|--print] -- FILE...`:
what file-manager menus run. Options only; mcv/plugins/desktop/job.py asks the core session."""

from __future__ import annotations

from typing import Callable, List, Optional

import typer

from mcv.plugins.actions import ACTIONS, DesktopAction

_HELP = """{label}: {what}, for file-manager menus (`mcv plugins install`).

Every argument after `--` is a file (a path or a file:// URI), never an
option. Many files are one job: one progress notification (with a Cancel
button where the desktop has one), then the results together. {default}

\b
Examples:
  mcv {command} -- photo.jpg
  mcv {command} --print -- ~/Pictures/*.png
"""
_WHAT = {
    "describe": "a few sentences about each image (the `describe` preset)",
    "ocr": "the text in each image, verbatim (the `ocr` preset)",
    "alt": "alt text for each image, at most 125 characters (the `alt` preset)",
    "ask-dialog": "asks your question in a dialog, then answers it about all the images together",
}
_DEFAULT = {
    "dialog": "The answer shows in a dialog (long ones scroll, with a Copy button).",
    "clipboard": "The answer is copied to the clipboard, and a notification shows it.",
}


def register(app: typer.Typer) -> None:
    for action in ACTIONS:
        help_text = _HELP.format(
            label=action.label, what=_WHAT[action.command], default=_DEFAULT[action.output], command=action.command
        )
        app.command(action.command, help=help_text)(_command(action))


def _command(action: DesktopAction) -> Callable[..., int]:
    def command(
        ctx: typer.Context,
        files: Optional[List[str]] = typer.Argument(None, metavar="-- FILE...", show_default=False),
        notify: bool = typer.Option(False, "--notify", help="The answer in a notification (a long one in a dialog)."),
        dialog: bool = typer.Option(False, "--dialog", help="The answer in a dialog."),
        clipboard: bool = typer.Option(False, "--clipboard", help="The answer on the clipboard."),
        print_: bool = typer.Option(False, "--print", help="The answer on standard output, errors on stderr."),
        model: Optional[str] = typer.Option(None, "--model", "-m", help="Model name [default: config `model`]."),
        host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
        gather: bool = typer.Option(
            False, "--gather", help="Launches of this action within a moment of each other become one job (Explorer starts one per file)."
        ),
    ) -> int:
        from mcv.errors import UsageError
        from mcv.plugins.desktop.job import run_desktop_job

        chosen = [name for name, on in (("notify", notify), ("dialog", dialog), ("clipboard", clipboard), ("print", print_)) if on]
        if len(chosen) > 1:
            raise UsageError("choose one of --notify, --dialog, --clipboard and --print")
        output, flags, words = chosen[0] if chosen else None, {"model": model, "host": host}, list(files or [])
        if gather:
            from mcv.plugins.desktop.gather import gather_for

            words = gather_for(ctx.obj, action.command, words, {"output": output, **flags})
            if words is None:
                return 0  # handed to the launch that runs the job
        return run_desktop_job(ctx.obj, action, words, output=output, flags=flags)

    command.__name__ = action.command.replace("-", "_")
    return command
