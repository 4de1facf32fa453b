"""One turn on the terminal: the answer on stdout, everything else on stderr.

Takes the core session's events (mcv.core.events) and shows them: the
answer through a plain or Markdown renderer (or one JSON object with
`--json`), image notes, which engine answers when it is not the daemon,
thinking (when asked for), metrics (with -v). A failed turn finishes what
was shown, then re-raises its error for the entry point to print as one line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mcv.core.backends.base import Metrics
from mcv.core.events import Done, Failed, ImageReady, Retrying, Routed, TextChunk, ThinkingChunk
from mcv.errors import EXIT_INTERRUPTED, EXIT_OK


@dataclass
class TurnView:
    env: Any  # cli.env.Environment
    as_json: bool = False
    markdown: bool = True
    verbose: bool = False
    show_thinking: bool = False
    # The answer is checked when complete (a schema, a length limit): it is
    # printed whole at the end, never half of a rejected first attempt.
    checked: bool = False
    _thinking_open: bool = field(default=False, init=False)  # reasoning shown, its last line not ended

    def show(self, turn) -> int:
        """Render `turn` to the end; returns the exit code, or raises the turn's McvError."""
        record: dict[str, Any] = {}  # the route, then the images: what --json reports
        pieces: list[str] = []
        answer = None if self.as_json or self.checked else self._answer_renderer()
        try:
            for event in turn:
                if isinstance(event, TextChunk):
                    self._end_thinking()
                    pieces.append(event.text)
                    if answer is not None:
                        answer.feed(event.text)
                elif isinstance(event, ThinkingChunk):
                    self._thinking(event.text)
                elif isinstance(event, ImageReady):
                    self._image(event.image, record)
                elif isinstance(event, Routed):
                    self._route(event, record)
                elif isinstance(event, Retrying):
                    pieces.clear()
                    self.env.note(f"the answer did not fit ({event.problem}); asking once more")
                elif isinstance(event, Done):
                    self._finish(answer, record, event.answer, done=event)
                elif isinstance(event, Failed):
                    self._finish(answer, record, event.partial, error=event.error.message)
                    raise event.error
        except KeyboardInterrupt:
            turn.close()  # closes the backend stream: the engine stops generating
            self._finish(answer, record, "".join(pieces), error="interrupted")
            self.env.stderr.write("mcv: interrupted\n")
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # The reader went away (`mcv ask ... | head`): stop the engine, not an error of ours.
            turn.close()
            self.env.discard_stdout()
            return EXIT_OK
        return EXIT_OK

    def _answer_renderer(self):
        from mcv.cli.render.stream import MarkdownRenderer, PlainRenderer

        if self.env.stdout_isatty and self.markdown:
            return MarkdownRenderer(self.env.console())
        return PlainRenderer(self.env.stdout)

    def _route(self, routed: Routed, record: dict[str, Any]) -> None:
        route = routed.route
        record.update(route.as_dict())
        # An answer from local files is worth a line: which pair, and why not the daemon.
        if routed.fresh and (route.pair is not None or self.verbose):
            because = f"{route.fallback_from}; " if route.fallback_from else ""
            self.env.note(f"{because}answering with {route.describe()}")

    def _image(self, image, record: dict[str, Any]) -> None:
        record.setdefault("images", []).append(image.summary())
        for note in image.notes:  # e.g. "animated GIF: first of 12 frames used"
            self.env.note(f"{image.label}: {note}")
        if self.verbose:
            from mcv.cli.render.image_text import size_text

            self.env.note(f"{image.label}: sending {size_text(image)} {image.mime}, {len(image.data):,} bytes")

    def _thinking(self, text: str) -> None:
        if self.as_json or not self.show_thinking:
            return  # --json keeps it in the object; otherwise it was not asked for
        # The reasoning goes to stderr so stdout stays the answer alone; dim on
        # a terminal, so that it does not read as the answer.
        if self.env.stderr_isatty and self.env.color:
            from rich.text import Text

            self.env.console(stderr=True).print(Text(text, style="dim"), end="")
        else:
            self.env.stderr.write(text)
            self.env.stderr.flush()
        self._thinking_open = True

    def _end_thinking(self) -> None:
        """Close the reasoning's last line, so the answer starts on a line of its own."""
        if self._thinking_open:
            self.env.stderr.write("\n")
            self.env.stderr.flush()
            self._thinking_open = False

    def _finish(self, answer, record: dict[str, Any], text: str, *, done: Done | None = None, error: str | None = None) -> None:
        self._end_thinking()
        if answer is not None:
            answer.finish()
        elif self.checked and not self.as_json and text:
            if done is not None and done.data is not None and self.env.stdout_isatty:
                text = json.dumps(done.data, indent=2, ensure_ascii=False)  # for eyes; pipes get it as it came
            self.env.stdout.write(text if text.endswith("\n") else text + "\n")
            self.env.stdout.flush()
        # No engine yet, no answer to describe: the error line on stderr says it all.
        if self.as_json and "backend" in record:
            document = {
                "answer": text,
                **record,
                "done_reason": done.done_reason if done else None,
                "metrics": ((done.metrics if done else None) or Metrics()).as_dict(),
            }
            if done is not None and done.data is not None:
                document["data"] = done.data
            if done is not None and done.thinking:
                document["thinking"] = done.thinking
            if error is not None:
                document["error"] = error
            self.env.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
            self.env.stdout.flush()
        if self.verbose and done is not None and done.metrics is not None:
            from mcv.cli.render.stream import format_metrics

            self.env.note(format_metrics(done.metrics))
