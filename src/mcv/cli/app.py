"""The command tree. Each command module declares its options only; the work
happens in the core, imported inside the command body (keeps `--help` fast).

A command module exposes a module-level `app = typer.Typer(...)` (a group)
or a `register(app)` function (single commands).
"""

from __future__ import annotations

import typer

from mcv import __version__


def _version_callback(ctx: typer.Context, value: bool) -> None:
    if value:
        ctx.obj.stdout.write(f"mcv {__version__}\n")
        raise typer.Exit()


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="mcv",
        help="MiniCPM-V on the desktop: ask about images, chat, package GGUF models for Ollama.",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    @app.callback()
    def root(
        version: bool = typer.Option(
            False, "--version", callback=_version_callback, is_eager=True, help="Show the version and exit."
        ),
    ) -> None:
        """MiniCPM-V on the desktop."""

    from mcv.cli import ask_cmd, batch_cmd, config_cmd, doctor_cmd, model_cmd, presets_cmd, setup_cmd

    ask_cmd.register(app)
    batch_cmd.register(app)
    from mcv.cli import chat_cmd, history_cmd

    chat_cmd.register(app)
    from mcv.cli import desktop_cmd, plugins_cmd

    desktop_cmd.register(app)
    from mcv.cli import snap_cmd

    snap_cmd.register(app)
    from mcv.cli import mcp_cmd

    mcp_cmd.register(app)
    app.add_typer(plugins_cmd.app, name="plugins")
    app.add_typer(history_cmd.app, name="history")
    app.add_typer(presets_cmd.app, name="presets")
    app.add_typer(model_cmd.app, name="model")
    setup_cmd.register(app)
    doctor_cmd.register(app)
    app.add_typer(config_cmd.app, name="config")
    return app


def build_command():
    import typer.main

    return typer.main.get_command(build_app())
