"""`mcv config path|show|set|unset`."""

from __future__ import annotations

import typer

app = typer.Typer(help="Show or change mcv's configuration file.", no_args_is_help=True)

# The other tools' variables that set a key and win over MCV_<KEY> and the file, as
# core/ollama/host.py and core/backends/openai read them: `show` says what is in effect.
OUTER_ENV = {"host": "OLLAMA_HOST", "openai.base_url": "OPENAI_BASE_URL", "openai.api_key": "OPENAI_API_KEY"}


@app.command("path")
def path_command(ctx: typer.Context) -> None:
    """Print where the configuration file lives (it may not exist yet)."""
    from mcv.core.config import config_path

    env = ctx.obj
    env.stdout.write(f"{config_path(env.environ)}\n")


@app.command("show")
def show_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Print every setting with its effective value and where it comes from."""
    from mcv.core.config import KEYS, load_config

    env = ctx.obj
    config = load_config(env.environ)
    rows = []
    for name, key in KEYS.items():
        value, origin = config.lookup(name)
        outer = OUTER_ENV.get(name)
        if outer and (env.environ.get(outer) or "").strip():
            value, origin = env.environ[outer], outer  # it wins over MCV_* and the file (see OUTER_ENV)
        if key.secret and value is not None:
            value = "(set)"
        source = key.env_var if origin == "env" else origin
        rows.append((name, value, source))
    if as_json:
        import json

        payload = {name: {"value": value, "source": source} for name, value, source in rows}
        env.stdout.write(json.dumps(payload, indent=2) + "\n")
        return
    env.stdout.write(f"# {config.path}\n")
    for name, value, source in rows:
        shown = "(unset)" if value is None else value
        env.stdout.write(f"{name} = {shown}  [{source}]\n")


@app.command("set")
def set_command(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name, e.g. model or llama.n_threads."),
    value: str = typer.Argument(..., help="New value."),
) -> None:
    """Store a setting in the configuration file."""
    from mcv.core.config import set_value

    env = ctx.obj
    path = set_value(key, value, env.environ)
    env.note(f"{key} set in {path}")


@app.command("unset")
def unset_command(
    ctx: typer.Context,
    key: str = typer.Argument(..., help="Setting name."),
) -> None:
    """Remove a setting from the configuration file (back to its default)."""
    from mcv.core.config import unset_value

    env = ctx.obj
    path = unset_value(key, env.environ)
    env.note(f"{key} removed from {path}")
