"""Entry point: run the typer app, turn McvError into one line + exit code."""

from __future__ import annotations

import contextlib
import sys
from typing import Sequence

from mcv.errors import EXIT_INTERRUPTED, EXIT_USAGE, McvError


def run(argv: Sequence[str] | None = None, env=None) -> int:
    """Run mcv with `argv` in `env`; return the exit code (tests call this)."""
    import typer
    from typer import _click as click  # the click that typer (>= 0.26) vendors and raises

    from mcv.cli.app import build_command
    from mcv.cli.env import Environment

    env = env or Environment.from_process()
    command = build_command()
    try:
        # click writes help and completion to sys.stdout; point it at env.stdout.
        with contextlib.redirect_stdout(env.stdout):
            result = command.main(
                args=list(sys.argv[1:] if argv is None else argv),
                prog_name="mcv",
                standalone_mode=False,
                obj=env,
            )
        return result if isinstance(result, int) else 0
    except McvError as err:
        env.error(err)
        return err.exit_code
    except click.exceptions.NoArgsIsHelpError as err:
        # A bare `mcv` or `mcv model` is a request for help, not a mistake.
        env.stdout.write(err.format_message() + "\n")
        return 0
    except click.exceptions.UsageError as err:
        # click's own message format, kept to one line plus the usage hint.
        env.stderr.write(f"mcv: error: {err.format_message()}\n")
        if err.ctx is not None:
            env.stderr.write(f"mcv: hint: see '{err.ctx.command_path} --help'\n")
        return EXIT_USAGE
    except typer.Exit as err:
        return err.exit_code
    except (typer.Abort, KeyboardInterrupt):
        env.stderr.write("\n")
        return EXIT_INTERRUPTED


def main() -> None:
    """The `mcv` console script (`python -m mcv` too)."""
    from mcv.cli.startup import lighten_httpx_import

    lighten_httpx_import()
    sys.exit(run())
