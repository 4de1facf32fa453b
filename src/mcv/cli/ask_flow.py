"""What `mcv ask` does once its options are parsed: build the request, ask the core session, render."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Mapping, Sequence

from mcv.errors import UsageError


def run_ask(
    env,
    arguments: Sequence[str],
    *,
    flags: Mapping[str, Any],
    changes: Mapping[str, Any],
    options: Sequence[str],
    schema: str | None,
    clipboard: bool,
    pages: str | None,
    make_view: Callable[..., Any],
    preset: str | None = None,
    prompt: str | None = None,
) -> int:
    """`flags` are config keys given on the command line; `changes` are Parameters fields;
    `make_view(markdown, checked)` is how the turn is shown (Markdown once the config has said;
    `checked`: the answer is validated when complete, core/structured.py); `prompt` is --prompt."""
    from mcv.core.arguments import load_schema, parse_options, split_arguments
    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES

    sources, prompt = split_arguments(arguments, prompt)
    if clipboard:
        from mcv.core.images.sources import clipboard_source

        sources.append(clipboard_source())
    if not sources:
        raise UsageError(
            "no image given: name an image file, a URL, '-' for standard input, or use --clipboard",
            hint="see 'mcv ask --help'",
        )
    settings = Settings.load(env.environ, flags=flags, pair_sources=SOURCES)
    with Session(settings, stdin=env.stdin) as session:
        from mcv.core.presets import apply_preset, find_preset

        task = apply_preset(session, find_preset(settings.config, preset) if preset else None, prompt)
        session.parameters = session.parameters.merged(
            options=parse_options(options), format=load_schema(schema) if schema is not None else None, **changes
        )
        session.prepare_settings = replace(session.prepare_settings, pages=pages)
        turn = task.ask(session, sources)  # images start preparing while the view is set up
        checked = session.parameters.format is not None or task.max_chars is not None
        view = make_view(settings.config.get("render.markdown"), checked)
        from mcv.core.history.turn_log import log_turn

        # Written once the answer is shown (or stopped): the history costs it nothing.
        return view.show(log_turn(session, turn, task.prompt, on_error=lambda err: not_logged(env, err)))


def not_logged(env, err) -> None:
    """A history that cannot be written costs one line, never the answer or the exit code."""
    env.note(f"not kept in the history: {err.message} (--no-log, or `mcv config set history.log false`)")
