"""ChatLoop: read a line, do what it says, show the answer, keep the history.

A line is a slash command, dropped files (attached, not sent), or a
question (sent with the waiting images). A line starting with `/` is never
sent as a question: a command, a file, or an error saying which it is not.
Answers render through the same TurnView as `mcv ask`: live Markdown on a
terminal, plain text on a pipe, thinking apart on stderr. Errors are one
line and the chat goes on; so does Ctrl-C during an answer (the engine
stops, the partial answer stays, marked interrupted).

Nothing typed is lost: a question that could not be sent (the engine
missing, a failed turn, Ctrl-C before the answer started, a context
warning) goes back into the input history, one Up away, and is kept as the
chat's draft if the user leaves next. It is not put back into the prompt:
whatever is typed next (often the fix, `/model ...`) would be glued to it.

From a pipe (`mcv chat < questions.txt`) there is nobody to answer a
warning: an overflowing question is sent anyway, and the exit code is that
of the first line that failed (0 when none did); Ctrl-C stops it there
(what was answered is kept), exit 130.
"""

from __future__ import annotations

from mcv.cli.chat import commands
from mcv.cli.chat.hints import in_chat
from mcv.cli.chat.line_input import EndOfInput, unwrap_block
from mcv.errors import EXIT_INTERRUPTED, McvError, UsageError

RECAP_LINES = 6  # of a resumed chat's last question
RECAP_CHARS = 400


class ChatLoop:
    def __init__(self, env, session, conversation, *, reader, previewer, history=None, markdown=True, think=False):
        self.env = env
        self.session = session
        self.conversation = conversation
        self.reader = reader
        self.previewer = previewer
        self.history = history  # core History, or None (logging off or unavailable)
        self.markdown = markdown
        self.think = think  # thinking shown (the request's own switch is session.parameters.think)
        self.interactive = env.stdin_isatty  # someone types (else: lines from a pipe)
        self.draft = ""  # text for the next prompt: the unsent draft of a resumed chat
        self.unsent: str | None = None  # the last question that did not go out
        self.held: str | None = None  # a question held back by the context warning
        self.backend: str | None = None  # the engine that answered last (for the history)
        self.leaving = False
        self.failure = 0  # exit code of the first line that failed
        self._kept: tuple | None = None  # what the history holds of this chat (None: not saved yet)
        self._history_failing = False

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        while not self.leaving:
            try:
                line = self.reader.read(self.prompt(), default=self._take_draft())
            except KeyboardInterrupt:
                if not self.interactive:
                    self._interrupted()
                    break
                continue  # Ctrl-C at the prompt clears the line
            except EndOfInput as end:
                self.draft = end.text
                break
            try:
                self.handle(line)
            except McvError as err:
                self.error(err)
            except KeyboardInterrupt:
                self.say("interrupted")
                self._interrupted()
            self.keep()
        self.keep(leaving=True)
        return 0 if self.interactive else self.failure

    def prompt(self) -> str:
        waiting = len(self.conversation.pending)
        return f"[+{waiting} image{'s' * (waiting != 1)}] >>> " if waiting else ">>> "

    def handle(self, line: str) -> None:
        from mcv.core.dropped_paths import dropped_images

        if not line.strip():
            return
        found = commands.find(line)
        if found is not None:
            command, argument = found
            command.run(self, argument)
            return
        sources = dropped_images(line)
        if sources is not None:
            self.attach(sources)
            return
        if line.lstrip().startswith("/"):
            raise _not_a_command(line)
        self.ask(unwrap_block(line))

    # --- asking ----------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        try:
            estimate = self.conversation.context(text)  # finds the engine: the daemon may be down
        except (McvError, KeyboardInterrupt) as err:
            self._not_sent(text, err)
            return
        if estimate.overflows and text != self.held:
            self.error(
                f"this turn would overflow the context: {estimate.describe()}, "
                "leaving too little room for an answer"
            )
            drop = ", /drop N removes an image (/images lists them)" if self.conversation.image_entries() else ""
            if self.interactive:
                self.held = text
                self._keep_unsent(text, quiet=True)
                self.say(f"  /clear starts over{drop}, /set num_ctx N raises the limit; "
                         "Up then Enter sends it anyway")
                return
            self.say("  sending it anyway (nobody to ask: the messages come from a pipe)")
        self.held = None
        try:
            turn = self.conversation.send(text)
        except (McvError, KeyboardInterrupt) as err:
            self._not_sent(text, err)
            return
        self.show(turn, asked=text)

    def _not_sent(self, text: str, err: BaseException) -> None:
        if isinstance(err, McvError):
            self.error(err)
        else:
            self.env.stderr.write("mcv: interrupted\n")
            self._interrupted()
        self._keep_unsent(text)

    def show(self, turn, asked: str | None = None) -> None:
        """Render one turn; a question that did not go through goes back into the input history."""
        from mcv.cli.render.turn import TurnView
        from mcv.core.history.turn_log import TurnTap

        before = len(self.conversation.messages)
        view = TurnView(self.env, markdown=self.markdown and self.env.stdout_isatty, show_thinking=self.think)
        tap = TurnTap()
        try:
            code = view.show(tap.watch(turn))
        except McvError as err:
            self.error(err)
            code = err.exit_code
        self.backend = tap.backend or self.backend
        if code == EXIT_INTERRUPTED:
            self._interrupted()
        elif code:
            self._failed(code)
        if asked is not None:
            if len(self.conversation.messages) == before:
                self._keep_unsent(asked)
            else:
                self.unsent = None
        if self.env.stdout_isatty:
            self.env.stdout.write("\n")  # the answer apart from the next prompt
            self.env.stdout.flush()

    def _keep_unsent(self, text: str, *, quiet: bool = False) -> None:
        """A question that did not go out: one Up away, and the draft if the user leaves now."""
        self.unsent = text
        self.reader.remember(text)
        if self.interactive and not quiet:
            self.say("  your question is kept: Up brings it back")

    # --- images ----------------------------------------------------------------------------

    def attach(self, sources) -> None:
        from mcv.cli.render.image_text import size_text

        entries = self.conversation.image_entries()
        known = {entry.image.sha256: entry.number for entry in reversed(entries)}  # the first of equal ones
        number = len(entries)
        for image in self.conversation.attach(sources):
            if image.sha256 in known:  # dropped twice, or sent already: every turn carries it anyway
                self._unattach(image)
                self.say(f"{image.label}: the same picture as image {known[image.sha256]}; not attached twice")
                continue
            number += 1
            known[image.sha256] = number
            notes = "".join(f"; {note}" for note in image.notes)
            self.say(f"image {number}: {image.label}, {size_text(image)}{notes}; waiting for your question")
            self.previewer.show(image)

    def _unattach(self, image) -> None:
        """Take this very image (not an equal one attached before) off the waiting list."""
        pending = self.conversation.pending
        del pending[max(n for n, waiting in enumerate(pending) if waiting is image)]

    # --- output ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A remark of the chat's own (stderr: stdout is for answers)."""
        if self.env.stderr_isatty and self.env.color:
            from rich.text import Text

            self.env.console(stderr=True).print(Text(text, style="dim"))
        else:
            self.env.stderr.write(text + "\n")
            self.env.stderr.flush()

    def error(self, err: McvError | str) -> None:
        """One line (and a hint in the chat's words); the first failure sets a piped chat's exit code."""
        if isinstance(err, McvError):
            self._failed(err.exit_code)
            self.env.error(in_chat(err))
        else:
            self._failed(1)
            self.env.error(err)

    def _failed(self, code: int) -> None:
        self.failure = self.failure or code

    def _interrupted(self) -> None:
        """Ctrl-C: someone typing gets the prompt back; a piped chat (a script) stops, exit 130."""
        self._failed(EXIT_INTERRUPTED)
        if not self.interactive:
            self.failure = EXIT_INTERRUPTED
            self.leaving = True

    def recap(self) -> None:
        """What a resumed or loaded chat holds: its images, then its last exchange (on stderr:
        stdout carries only new answers, so a piped chat's output is its answers alone)."""
        messages = self.conversation.messages
        for entry in self.conversation.image_entries():
            where = "waiting" if entry.message is None else "sent"
            self.say(f"image {entry.number}: {entry.image.label}, {entry.image.width}x{entry.image.height}, {where}")
            self.previewer.show(entry.image)
        if len(messages) >= 2:
            question, answer = messages[-2], messages[-1]
            self.say(f">>> {shortened(question.content)}")
            mark = " [interrupted]" if answer.interrupted else ""
            if self.markdown and self.env.stderr_isatty:
                from rich.markdown import Markdown

                self.env.console(stderr=True).print(Markdown(answer.content + mark))
            else:
                self.env.stderr.write(answer.content + mark + "\n")
                self.env.stderr.flush()

    # --- the history -------------------------------------------------------------------------

    def resumed(self, draft: str | None) -> None:
        """The chat was just read from the history: nothing to write until something changes."""
        self.draft = draft or ""
        self._kept = self._state(self.draft or None)

    def keep(self, *, leaving: bool = False) -> None:
        """Save the chat in the history after every line (with the unsent draft on leaving), when
        something changed. A failed write (a locked file, Ctrl-C) is tried again after the next line."""
        conversation = self.conversation
        if self.history is None:
            return
        draft = (self.draft or self.unsent or None) if leaving else None
        state = self._state(draft)
        changed = state != self._kept
        empty = not (conversation.messages or conversation.pending or conversation.history_id or draft)
        if changed and not empty:
            try:
                self.history.save(
                    conversation,
                    kind="chat",
                    model=self.session.parameters.model,
                    backend=self.backend,
                    draft=draft,
                    options=self.session.parameters.options,
                    think=self.session.parameters.think,
                )
            except (McvError, KeyboardInterrupt) as err:
                if not self._history_failing or leaving:
                    reason = err.message if isinstance(err, McvError) else "interrupted"
                    later = "" if leaving else "; trying again after the next line"
                    self.env.note(f"the history was not written: {reason}{later}")
                self._history_failing = True
                return
            if self._history_failing:
                self.env.note("the history is written again")
            self._history_failing = False
            self._kept = state
        if leaving and conversation.history_id is not None:
            self.env.note(f"chat {conversation.history_id} is in the history: `mcv chat --continue {conversation.history_id}`")

    def _state(self, draft: str | None) -> tuple:
        """What the history would hold of this chat: compared, not hashed (images by identity first)."""
        conversation, parameters = self.conversation, self.session.parameters
        return (
            conversation.history_id,
            list(conversation.messages),
            list(conversation.pending),
            conversation.system,
            parameters.model,
            dict(parameters.options),
            parameters.think,
            draft,
        )

    def _take_draft(self) -> str:
        draft, self.draft = self.draft, ""
        return draft


def shortened(text: str, lines: int = RECAP_LINES, chars: int = RECAP_CHARS) -> str:
    """The start of a long text (a huge paste), saying how much is left out."""
    kept = "\n".join(text.splitlines()[:lines])[:chars]
    if len(kept) >= len(text.rstrip()):
        return text
    return f"{kept.rstrip()} … ({len(text) - len(kept):,} more characters)"


def _not_a_command(line: str) -> UsageError:
    """A line starting with `/` that is neither a command nor files to attach."""
    name = line.split()[0]
    if "/" in name[1:] or "." in name:
        return UsageError(
            f"{name}: no such file",
            hint='a line starting with / is a command or a file to attach; to ask it, put it in a """ block',
        )
    return UsageError(f"unknown command {name} (/help lists them)")
