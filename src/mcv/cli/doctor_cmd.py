"""`mcv doctor`: one line per check of what can run MiniCPM-V here (the checks are mcv.selftest.checks)."""

from __future__ import annotations

from typing import Optional

import typer

DOCTOR_HELP = """Check Ollama, llama-cpp-python and local GGUF pairs, and run an offline self-test.
Also says which screen capture tool `mcv snap` would use here, or what to install.

The self-test writes a tiny random-weight model pair to a temporary folder and
asks it about one image through llama.cpp (in a child process); it needs no
network and no real weights.

\b
Marks: ✓ fine, ! missing but optional, ✗ broken.
Exit codes: 0 when nothing is broken and MiniCPM-V can run one way or another
(Ollama with a vision model, or llama-cpp-python passing the self-test plus a
local GGUF pair); 1 otherwise.
"""

MARKS = {"ok": ("✓", "green"), "warn": ("!", "yellow"), "fail": ("✗", "red")}


def register(app: typer.Typer) -> None:
    app.command("doctor", help=DOCTOR_HELP)(doctor)


def doctor(
    ctx: typer.Context,
    host: Optional[str] = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model to look for [default: config `model`]."),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as one JSON object."),
    self_test: bool = typer.Option(True, "--self-test/--no-self-test", help="Run the offline tiny-model test."),
) -> int:
    import json

    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES
    from mcv.selftest.checks import run_checks

    env = ctx.obj
    settings = Settings.load(env.environ, flags={"host": host, "model": model}, pair_sources=SOURCES)
    report = run_checks(settings, selftest=self_test)
    from mcv.plugins.snap.doctor import capture_checks

    report.checks.extend(capture_checks(env.environ))  # `mcv snap`: warnings only, never unhealthy
    summary = report.summary()
    if as_json:
        document = {"healthy": report.healthy, "checks": [c.as_dict() for c in report.checks + [summary]]}
        env.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        width = max(len(c.name) for c in report.checks + [summary])
        for check in report.checks + [summary]:
            _print_check(env, check, width)
    env.stdout.flush()
    return 0 if report.healthy else 1


def _print_check(env, check, width: int) -> None:
    mark, colour = MARKS[check.status]
    line = f"{mark} {check.name.ljust(width)}  {check.detail}"
    hint = f"    {' ' * width}  → {check.hint}" if check.hint else None
    if env.stdout_isatty:
        from rich.text import Text

        console = env.console()
        console.print(Text(line, style=colour if env.color else ""), soft_wrap=True)
        if hint:
            console.print(Text(hint, style="dim" if env.color else ""), soft_wrap=True)
    else:
        env.stdout.write(line + "\n")
        if hint:
            env.stdout.write(hint + "\n")
