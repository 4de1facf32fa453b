"""The thin typer + rich command line: parse, call the core, render."""
