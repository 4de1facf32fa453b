"""The command tree. Each command module declares its options only; the work
happens in the core, imported inside the command body (keeps `--help` fast).

To add a command group: write `mcv/cli/<name>_cmd.py` with a module-level
`app = typer.Typer(...)` (group) or a `register(app)` function, and list it
here.
"""

from __future__ import annotations

import typer

from mcv import __version__


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"mcv {__version__}")
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

    from mcv.cli import ask_cmd, config_cmd

    ask_cmd.register(app)
    app.add_typer(config_cmd.app, name="config")
    _register_optional(app)
    return app


def _register_optional(app: typer.Typer) -> None:
    """Command groups added by later work; each registers itself if present."""
    import importlib

    for module_name, group in (
        ("mcv.cli.model_cmd", "model"),
        ("mcv.cli.setup_cmd", None),
        ("mcv.cli.doctor_cmd", None),
    ):
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        if group:
            app.add_typer(module.app, name=group)
        else:
            module.register(app)


def build_command():
    import typer.main

    return typer.main.get_command(build_app())
