"""The chat's slash commands: one table (for /help and Tab completion) and one function each.

Each function takes the ChatLoop and the text after the command name, and
changes the core conversation or session; the loop shows errors (McvError)
as one line and goes on.
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass
from typing import Callable

from mcv.core.units import counted
from mcv.errors import UsageError


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    help: str
    run: Callable
    complete: str | None = None  # "path", "onoff", "option", "image": what Tab offers after it


def image(chat, argument: str) -> None:
    from mcv.cli.chat.image_args import sources_from_argument

    chat.attach(sources_from_argument(argument))


def images(chat, argument: str) -> None:
    from mcv.cli.render.image_text import size_text

    entries = chat.conversation.image_entries()
    if not entries:
        chat.say("no images yet: /image PATH, /paste, or drop a file here")
        return
    questions = [i for i, m in enumerate(chat.conversation.messages) if m.role == "user"]
    for entry in entries:
        where = "waiting for the next question" if entry.message is None else f"sent with question {questions.index(entry.message) + 1}"
        chat.say(f"{entry.number:>3}  {entry.image.label}  {size_text(entry.image)}  {where}")


def drop(chat, argument: str) -> None:
    if not argument.strip().isdigit():
        raise UsageError("/drop needs an image number", hint="/images lists them")
    entry = chat.conversation.drop(int(argument))
    what = "waiting image" if entry.message is None else "image (later questions no longer carry it)"
    chat.say(f"dropped {what} {entry.number}: {entry.image.label}")


def paste(chat, argument: str) -> None:
    from mcv.core.images.sources import clipboard_source

    chat.attach([clipboard_source()])


def clear(chat, argument: str) -> None:
    kept = chat.conversation.history_id
    chat.conversation.clear()
    chat.say("a new chat" + (f"; the history keeps the previous one as {kept}" if kept else ""))


def retry(chat, argument: str) -> None:
    chat.show(chat.conversation.retry())


def undo(chat, argument: str) -> None:
    question, _ = chat.conversation.undo()
    chat.say(f"forgot the last question ({_short(question.content)}) and its answer")


def save(chat, argument: str) -> None:
    name = _one_path(argument) or time.strftime("mcv-chat-%Y%m%d-%H%M%S.md")
    kind = chat.conversation.save(name)
    count = len(chat.conversation.image_entries())
    chat.say(f"saved to {name} ({'JSON' if kind == 'json' else 'Markdown'}, {count} image{'s' * (count != 1)})")


def load(chat, argument: str) -> None:
    name = _whole_path(argument) or _one_path(argument)
    if not name:
        raise UsageError("/load needs a file saved with /save")
    chat.conversation.load(name)
    conversation = chat.conversation
    chat.say(f"loaded {name}: {counted(len(conversation.messages), 'message')}, {counted(len(conversation.image_entries()), 'image')}")
    chat.recap()


def copy(chat, argument: str) -> None:
    from mcv.core.text_clipboard import copy_text

    answers = [m for m in chat.conversation.messages if m.role == "assistant"]
    if not answers:
        raise UsageError("no answer to copy yet")
    copy_text(answers[-1].content, environ=chat.env.environ)
    chat.say(f"copied the last answer ({len(answers[-1].content):,} characters)")


def system(chat, argument: str) -> None:
    if not argument.strip():
        current = chat.conversation.system
        chat.say(f"system prompt: {current}" if current else "no system prompt (the model's own default)")
        return
    chat.conversation.system = argument.strip()
    chat.say("system prompt set")


def set_option(chat, argument: str) -> None:
    """`/set KEY VALUE` or `/set KEY=VALUE` (as -o); `/set KEY` unsets; `/set` lists.

    Checked as -o is (name, type, range); against what the engine honours
    only when it is open already: setting a value needs no daemon."""
    from mcv.core.arguments import parse_option
    from mcv.core.options import check_options

    session = chat.session
    text = argument.strip()
    if not text:
        options = session.parameters.options
        chat.say(", ".join(f"{k}={v}" for k, v in sorted(options.items())) if options else "no options set (the model's defaults)")
        return
    first = text.split(None, 1)[0]
    key, _, value = text.partition("=") if "=" in first else text.partition(" ")
    key, value = key.strip(), value.strip()
    check_options({key: None})  # an unknown name, whether setting or unsetting
    if not value:
        if key not in session.parameters.options:
            chat.say(f"{key} is not set (the model's default)")
            return
        options = {k: v for k, v in session.parameters.options.items() if k != key}
        session.parameters = dataclasses.replace(session.parameters, options=options)
        chat.say(f"{key} back to the model's default")
        return
    key, parsed = parse_option(f"{key}={value}")
    capabilities = session.known_capabilities()
    if capabilities is not None and key not in capabilities.options:
        from mcv.core.session import unsupported_option

        raise unsupported_option(key, session.route(), capabilities)
    session.parameters = session.parameters.merged(options={key: parsed})  # type- and range-checked as -o is
    chat.say(f"{key} = {session.parameters.options[key]}")


def think(chat, argument: str) -> None:
    word = argument.strip().lower()
    if word not in ("on", "off"):
        raise UsageError("/think takes on or off")
    on = word == "on"
    if on and not chat.session.capabilities().thinking:
        raise UsageError(
            f"model '{chat.session.parameters.model}' has no thinking capability",
            hint="/model NAME switches to one that thinks (e.g. MiniCPM-V 4.5)",
        )
    chat.session.parameters = chat.session.parameters.merged(think=on)
    chat.think = on
    chat.say(f"thinking {word}")


def model(chat, argument: str) -> None:
    name = argument.strip()
    if not name:
        chat.say(f"model: {chat.session.route().describe()}")
        return
    session = chat.session
    before = session.parameters
    session.parameters = session.parameters.merged(model=name)
    try:
        route = session.route(name)
        capabilities = session.capabilities(name)
    except BaseException:
        session.parameters = before
        raise
    chat.say(f"now answering with {route.describe()}")
    if session.parameters.think is not None and not capabilities.thinking:
        session.parameters = dataclasses.replace(session.parameters, think=None)
        if before.think:
            chat.say(f"thinking off: {name} cannot think")
        chat.think = False


def stats(chat, argument: str) -> None:
    from mcv.cli.render.stream import format_metrics

    conversation = chat.conversation
    last = conversation.last
    if last is not None and last.metrics is not None:
        chat.say("last answer: " + format_metrics(last.metrics))
    else:
        chat.say("last answer: none finished yet")
    questions = sum(1 for m in conversation.messages if m.role == "user")
    chat.say(f"context: {conversation.context().describe()}")
    chat.say(f"{counted(questions, 'question')}, {counted(len(conversation.image_entries()), 'image')}; model {chat.session.route().describe()}")


def help_(chat, argument: str) -> None:
    width = max(len(f"{c.name} {c.usage}".strip()) for c in COMMANDS)
    for command in COMMANDS:
        chat.say(f"  {f'{command.name} {command.usage}'.strip():<{width}}  {command.help}")
    chat.say("")
    chat.say("  Enter sends · Alt-Enter or a \"\"\" block for several lines · Tab completes · Up/Down: earlier lines")
    chat.say("  a dropped or pasted file path on a line of its own is attached · Ctrl-C stops an answer · Ctrl-D leaves")


def leave(chat, argument: str) -> None:
    chat.leaving = True


COMMANDS: tuple[Command, ...] = (
    Command("/image", "PATH…", "attach images to the next message (nothing is sent yet)", image, "path"),
    Command("/images", "", "list the waiting images and those already in the chat", images),
    Command("/drop", "N", "remove image N (numbers as /images shows them)", drop, "image"),
    Command("/paste", "", "attach the image on the clipboard", paste),
    Command("/clear", "", "start a new chat (the history keeps this one)", clear),
    Command("/retry", "", "ask the last question again, for a new answer", retry),
    Command("/undo", "", "forget the last question and its answer", undo),
    Command("/save", "[FILE]", "save the chat with its images: Markdown, or JSON for *.json", save, "path"),
    Command("/load", "FILE", "replace this chat by one saved with /save", load, "path"),
    Command("/copy", "", "put the last answer on the clipboard", copy),
    Command("/system", "[TEXT]", "set the system prompt (alone: show it)", system),
    Command("/set", "KEY [VALUE]", "set a request option as -o does, e.g. /set num_ctx 8192 or num_ctx=8192 (no value: unset)", set_option, "option"),
    Command("/think", "on|off", "let a thinking model reason first (shown apart)", think, "onoff"),
    Command("/model", "[NAME]", "answer with another model from now on (alone: which one answers)", model),
    Command("/stats", "", "tokens, tokens/s and context used out of num_ctx", stats),
    Command("/help", "", "this list", help_),
    Command("/exit", "", "leave (Ctrl-D too); the history keeps the chat", leave),
)
BY_NAME = {command.name: command for command in COMMANDS} | {"/quit": COMMANDS[-1], "/bye": COMMANDS[-1]}


def find(line: str) -> tuple[Command, str] | None:
    """The command a line starts with, and its argument; None when the line is not a known command."""
    name, _, argument = line.strip().partition(" ")
    command = BY_NAME.get(name.lower())
    return (command, argument) if command is not None else None


def _words(argument: str) -> list[str]:
    import shlex

    try:
        return shlex.split(argument)
    except ValueError as err:
        raise UsageError(f"cannot read the paths: {err}") from None


def _whole_path(argument: str) -> str | None:
    """The argument as one existing file, spaces and all (`/load my chat.md`)."""
    path = os.path.expanduser(argument.strip())
    return path if path and os.path.isfile(path) else None


def _one_path(argument: str) -> str | None:
    words = _words(argument) if argument.strip() else []
    if len(words) > 1:
        raise UsageError("one file name, please (quote it if it has spaces)")
    return os.path.expanduser(words[0]) if words else None


def _short(text: str, length: int = 40) -> str:
    line = " ".join(text.split())
    return line if len(line) <= length else line[: length - 1] + "…"
