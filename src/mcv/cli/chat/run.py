"""What `mcv chat` does once its options are parsed: settings, session, the conversation (new or
resumed from the history), images from the command line, a preset's question, then the loop."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping, Sequence

from mcv.core.units import counted
from mcv.errors import UsageError


def run_chat(
    env,
    images: Sequence[str],
    *,
    flags: dict[str, Any],
    changes: Mapping[str, Any],
    options: Sequence[str],
    resume: bool,
    preset: str | None = None,
    clipboard: bool = False,
) -> int:
    """`flags` are config keys given on the command line; `changes` are Parameters fields."""
    from mcv.cli.chat.image_args import sources_from_words
    from mcv.core.arguments import parse_options
    from mcv.core.config import load_config
    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES

    words = list(images)
    resume_id = None
    if resume and words and words[0].isdigit() and _is_not_a_file(words[0]):
        resume_id = int(words.pop(0))  # `--continue 12`
    sources = sources_from_words(words)
    if clipboard:
        from mcv.core.images.sources import clipboard_source

        sources.append(clipboard_source())
    cli_options = parse_options(options)
    config = load_config(env.environ, flags)
    history = _open_history(env) if config.get("history.log") or resume else None
    record = None
    if resume:
        record = _resumed(history, resume_id, env)
        if flags.get("model") is None and record.summary.model:
            flags = {**flags, "model": record.summary.model}
    settings = Settings.load(env.environ, flags=flags, pair_sources=SOURCES)
    if not settings.config.get("history.log") and history is not None:
        history.close()
        history = None  # read from, for --continue; not written to
    with Session(settings) as session:
        task = None
        if preset:
            from mcv.core.presets import apply_preset, find_preset

            chosen = find_preset(settings.config, preset)
            task = apply_preset(session, chosen, None)  # options, schema, system prompt, pixel budget
        if record is not None:
            _restore_settings(session, record, cli_options, changes, env)
        session.parameters = session.parameters.merged(options=cli_options, **changes)
        conversation = session.conversation()
        loop = _make_loop(env, session, conversation, settings, history, think=bool(session.parameters.think))
        try:
            if record is not None:
                conversation.restore(record.transcript, history_id=record.summary.id)
                if settings.config.lookup("system")[1] == "flag" or (task is not None and chosen.system is not None):
                    conversation.system = session.system  # --system (or the preset's) beats the saved one
                loop.resumed(record.draft)
                loop.say(f"continuing chat {record.summary.id}: {record.summary.title} "
                         f"({counted(len(conversation.messages), 'message')}, {counted(len(conversation.image_entries()), 'image')})")
                loop.recap()
            elif env.stdin_isatty:
                loop.say(f"mcv chat with {session.parameters.model}: /help lists the commands, Ctrl-D leaves")
            if sources:
                loop.attach(sources)
            if task is not None:
                if conversation.pending:
                    loop.ask(task.prompt or "")  # the preset's question about the images given
                else:
                    loop.say(f"preset {preset}: set up; its question goes with images named on the command line")
            return loop.run()
        finally:
            if history is not None:
                history.close()


def _restore_settings(session, record, cli_options: Mapping[str, Any], changes: Mapping[str, Any], env) -> None:
    """The options and thinking the chat had (/set, /think), under what this command line says."""
    from mcv.errors import McvError

    saved = {key: value for key, value in record.options.items() if key not in cli_options}
    try:
        session.parameters = session.parameters.merged(options=saved)
    except McvError as err:
        env.note(f"the chat's saved options are not used: {err.message}")
    if changes.get("think") is None and record.think is not None:
        session.parameters = replace(session.parameters, think=record.think)


def _make_loop(env, session, conversation, settings, history, *, think: bool):
    from mcv.cli.chat.loop import ChatLoop
    from mcv.cli.render.preview import Previewer

    loop = ChatLoop(
        env,
        session,
        conversation,
        reader=None,
        previewer=Previewer(env, settings.config.get("chat.preview")),
        history=history,
        markdown=settings.config.get("render.markdown"),
        think=think,
    )
    loop.reader = _reader(env, loop)
    return loop


def _reader(env, loop):
    from mcv.cli.chat.line_input import PipeReader

    if not env.stdin_isatty:
        return PipeReader(env.stdin)
    from mcv.cli.chat import commands
    from mcv.cli.chat.line_input import ChatCompleter, TerminalReader
    from mcv.core.options import OPTION_TYPES
    from mcv.packaging.state import state_dir

    completer = ChatCompleter(commands.COMMANDS, list(OPTION_TYPES), lambda: len(loop.conversation.image_entries()))
    return TerminalReader(state_dir(env.environ) / "chat-input-history", completer.completer)


def _is_not_a_file(word: str) -> bool:
    import os

    return not os.path.exists(word)


def _open_history(env):
    from mcv.core.history import History, HistoryError

    try:
        return History.open(env.environ)
    except HistoryError as err:
        env.note(f"the history is not kept: {err.message}")
        return None


def _resumed(history, number: int | None, env):
    if history is None:
        raise UsageError("--continue needs the history, which cannot be opened")
    number = number if number is not None else history.latest("chat")
    if number is None:
        raise UsageError("no chat to continue yet", hint="start one with `mcv chat IMAGE`")
    return history.read(number)
