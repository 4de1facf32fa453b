"""ChatLoop: read a line, do what it says, show the answer, keep the history.

A line is a slash command, dropped files (attached, not sent), or a
question (sent with the waiting images). Answers render through the same
TurnView as `mcv ask`: live Markdown on a terminal, plain text on a pipe,
thinking apart on stderr. Errors are one line and the chat goes on; so
does Ctrl-C during an answer (the engine stops, the partial answer stays,
marked interrupted). Nothing typed is lost: a question that could not be
sent comes back as the next prompt's text.
"""

from __future__ import annotations

from mcv.cli.chat import commands
from mcv.cli.chat.line_input import EndOfInput, unwrap_block
from mcv.core.events import Routed
from mcv.errors import McvError


class ChatLoop:
    def __init__(self, env, session, conversation, *, reader, previewer, history=None, markdown=True, think=False):
        self.env = env
        self.session = session
        self.conversation = conversation
        self.reader = reader
        self.previewer = previewer
        self.history = history  # core History, or None (logging off or unavailable)
        self.markdown = markdown
        self.think = think
        self.draft = ""  # text for the next prompt: a question that did not go out
        self.held: str | None = None  # a question held back by the context warning
        self.backend: str | None = None  # the engine that answered last (for the history)
        self.leaving = False

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> int:
        while not self.leaving:
            try:
                line = self.reader.read(self.prompt(), default=self._take_draft())
            except KeyboardInterrupt:
                continue  # Ctrl-C at the prompt clears the line
            except EndOfInput as end:
                self.draft = end.text
                break
            try:
                self.handle(line)
            except McvError as err:
                self.env.error(err)
            except KeyboardInterrupt:
                self.say("interrupted")
            self.keep()
        self.keep(leaving=True)
        return 0

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
        if commands.looks_like_command(line):
            self.env.error(f"unknown command {line.split()[0]} (/help lists them)")
            return
        self.ask(unwrap_block(line))

    # --- asking ----------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        estimate = self.conversation.context(text)
        if estimate.overflows and text != self.held:
            self.held = self.draft = text
            self.env.error(
                f"this turn would overflow the context: {estimate.describe()}, "
                "leaving too little room for an answer"
            )
            self.say("  /clear starts over, /drop N removes an image (/images lists them), "
                     "/set num_ctx N raises the limit; press Enter to send anyway")
            return
        self.held = None
        self.show(self.conversation.send(text), asked=text)

    def show(self, turn, asked: str | None = None) -> None:
        """Render one turn; a question that did not go through comes back as the next prompt."""
        from mcv.cli.render.turn import TurnView

        before = len(self.conversation.messages)
        view = TurnView(self.env, markdown=self.markdown and self.env.stdout_isatty, show_thinking=self.think)
        try:
            code = view.show(self._watched(turn))
        except McvError as err:
            self.env.error(err)
            code = err.exit_code
        if code and asked and len(self.conversation.messages) == before:
            self.draft = asked
        if self.env.stdout_isatty:
            self.env.stdout.write("\n")  # the answer apart from the next prompt
            self.env.stdout.flush()

    def _watched(self, turn):
        events = iter(turn)
        try:
            for event in events:
                if isinstance(event, Routed):
                    self.backend = event.route.backend
                yield event
        finally:
            events.close()

    # --- images ----------------------------------------------------------------------------

    def attach(self, sources) -> None:
        before = len(self.conversation.image_entries())
        images = self.conversation.attach(sources)
        for offset, image in enumerate(images):
            resized = (image.width, image.height) != (image.source_width, image.source_height)
            size = f"{image.width}x{image.height}" + (f" (from {image.source_width}x{image.source_height})" if resized else "")
            notes = "".join(f"; {note}" for note in image.notes)
            self.say(f"image {before + offset + 1}: {image.label}, {size}{notes}; waiting for your question")
            self.previewer.show(image)

    # --- output ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A remark of the chat's own (stderr: stdout is for answers)."""
        if self.env.stderr_isatty and self.env.color:
            from rich.text import Text

            self.env.console(stderr=True).print(Text(text, style="dim"))
        else:
            self.env.stderr.write(text + "\n")
            self.env.stderr.flush()

    def recap(self) -> None:
        """What a resumed or loaded chat holds: counts, then its last exchange."""
        messages = self.conversation.messages
        for entry in self.conversation.image_entries():
            where = "waiting" if entry.message is None else "sent"
            self.say(f"image {entry.number}: {entry.image.label}, {entry.image.width}x{entry.image.height}, {where}")
            self.previewer.show(entry.image)
        if len(messages) >= 2:
            question, answer = messages[-2], messages[-1]
            self.say(f">>> {question.content}")
            mark = " [interrupted]" if answer.interrupted else ""
            if self.markdown and self.env.stdout_isatty:
                from rich.markdown import Markdown

                self.env.console().print(Markdown(answer.content + mark))
            else:
                self.env.stdout.write(answer.content + mark + "\n")
                self.env.stdout.flush()

    # --- the history -------------------------------------------------------------------------

    def keep(self, *, leaving: bool = False) -> None:
        """Save the chat in the history (after every line, and with the unsent draft on leaving)."""
        conversation = self.conversation
        if self.history is None:
            return
        if not (conversation.messages or conversation.pending or conversation.history_id):
            if not (leaving and self.draft.strip()):
                return
        try:
            self.history.save(
                conversation,
                kind="chat",
                model=self.session.parameters.model,
                backend=self.backend,
                draft=(self.draft or None) if leaving else None,
            )
        except McvError as err:
            self.env.note(f"the history is not kept any more: {err.message}")
            self.history = None
            return
        if leaving:
            self.env.note(f"chat {conversation.history_id} is in the history: `mcv chat --continue {conversation.history_id}`")

    def _take_draft(self) -> str:
        draft, self.draft = self.draft, ""
        return draft
