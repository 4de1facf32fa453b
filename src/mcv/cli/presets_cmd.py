"""`mcv presets ls | show NAME`: the task presets (core/presets.py), built in and from the config file."""

from __future__ import annotations

import typer

app = typer.Typer(help="List the task presets (--preset NAME), or show one.", no_args_is_help=True)


@app.command("ls")
def ls_command(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per preset."),
) -> None:
    """List every preset: what it does, its pixel budget, whether it answers JSON, where it comes from."""
    from mcv.core.config import load_config
    from mcv.core.presets import all_presets

    env = ctx.obj
    config = load_config(env.environ)
    presets = all_presets(config)
    if as_json:
        import json

        for preset in presets:
            env.stdout.write(json.dumps({"name": preset.name, **preset.as_table(), "source": preset.source}) + "\n")
        return
    rows = [
        (p.name, p.description, _budget(p.max_pixels), "json" if p.schema is not None else "text", p.source)
        for p in presets
    ]
    headers = ("NAME", "DOES", "PIXELS", "ANSWER", "FROM")
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    for row in (headers, *rows):
        env.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n")


@app.command("show")
def show_command(ctx: typer.Context, name: str = typer.Argument(..., help="Preset name, e.g. receipt.")) -> None:
    """Print a preset as a config-file table: copy it into the config file to change it."""
    from mcv.core.config import load_config
    from mcv.core.presets import BUILT_IN_SOURCE, find_preset

    env = ctx.obj
    config = load_config(env.environ)
    preset = find_preset(config, name)
    if preset.source == BUILT_IN_SOURCE:
        env.stdout.write(f"# {preset.source}; a [presets.{preset.name}] table in {config.path} changes it\n")
    else:  # it comes from the config file already: say where, once
        origin = preset.source if preset.source.startswith(BUILT_IN_SOURCE) else f"from {preset.source}"
        env.stdout.write(f"# {origin}: its [presets.{preset.name}] table\n")
    env.stdout.write(preset_toml(preset.name, preset.as_table()))


def preset_toml(name: str, table: dict) -> str:
    """`table` as a `[presets.NAME]` config table, the schema's JSON readable; it reads back the same."""
    import tomli_w

    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    table = dict(table)
    schema = table.pop("schema", None)
    text = tomli_w.dumps({"presets": {name: table}}, multiline_strings=True)
    if schema is not None:
        # A literal string keeps the JSON readable (no escaped quotes). It goes right
        # under the table's header: the preset's own keys come before its sub-tables
        # (options), and a multi-line prompt may hold blank lines of its own.
        header, _, rest = text.partition("\n")
        readable = f"{header}\nschema = '''\n{schema}'''\n{rest}"
        plain = f"{header}\n{tomli_w.dumps({'schema': schema})}{rest}"
        expected = {**table, "schema": schema}
        text = readable if _reads_back(tomllib, readable, name, expected) else plain
    return text


def _reads_back(tomllib, text: str, name: str, expected: dict) -> bool:
    try:
        return tomllib.loads(text)["presets"][name] == expected
    except (tomllib.TOMLDecodeError, KeyError):
        return False


def _budget(max_pixels: int | None) -> str:
    from mcv.core.presets import FULL_BUDGET

    if max_pixels is None:
        return "configured"
    if max_pixels == FULL_BUDGET:
        return "full"
    return f"{max_pixels / 1e6:.1f} MP"
