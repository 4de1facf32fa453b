"""What `mcv chat` does once its options are parsed: settings, session, the conversation (new or
resumed from the history), images from the command line, then the loop."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from mcv.errors import InputError, UsageError


def run_chat(
    env,
    images: Sequence[str],
    *,
    flags: dict[str, Any],
    changes: Mapping[str, Any],
    options: Sequence[str],
    resume: bool,
) -> int:
    """`flags` are config keys given on the command line; `changes` are Parameters fields."""
    from mcv.core.arguments import parse_options
    from mcv.core.config import load_config
    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES

    words = list(images)
    resume_id = None
    if resume and words and words[0].isdigit() and _is_not_a_file(words[0]):
        resume_id = int(words.pop(0))  # `--continue 12`
    sources = _image_sources(words)
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
        session.parameters = session.parameters.merged(options=parse_options(options), **changes)
        conversation = session.conversation()
        loop = _make_loop(env, session, conversation, settings, history, think=bool(changes.get("think")))
        if record is not None:
            conversation.restore(record.transcript, history_id=record.summary.id)
            loop.draft = record.draft or ""
            loop.say(f"continuing chat {record.summary.id}: {record.summary.title} "
                     f"({len(conversation.messages)} messages, {len(conversation.image_entries())} images)")
            loop.recap()
        elif env.stdin_isatty:
            loop.say(f"mcv chat with {session.parameters.model}: /help lists the commands, Ctrl-D leaves")
        if sources:
            loop.attach(sources)
        try:
            return loop.run()
        finally:
            if history is not None:
                history.close()


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


def _image_sources(words: Sequence[str]):
    from mcv.core.images.sources import parse_image_arg

    sources = []
    for word in words:
        source = parse_image_arg(word) if word != "-" else None
        if source is None:
            if word == "-":
                raise UsageError("mcv chat reads your messages from standard input: it cannot be an image too")
            raise InputError(f"{word}: no such file")
        sources.append(source)
    return sources


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
