"""One desktop job: the files a file manager selected -> one progress notification -> the core
session, one turn per image (or one question about all of them) -> the results in one place.

    run_desktop_job(env, BY_COMMAND["describe"], ["--", "a.png", "b.png"][1:], output=None, flags={})

Where the answer goes (`output`): a dialog (long answers scroll and have a
Copy button), a notification (a long one still goes to a dialog), the
clipboard (alt text; a notification says what was copied), or standard
output. A failure that stops the job (the daemon is down, the model is
missing) is a dialog with the error and its hint; a file that cannot be read
only fails itself. "Cancel" on the progress notification stops the engine:
the turn is closed, and if the engine is still thinking before its first
word, the session is closed under it.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from mcv.core.events import Done, Failed
from mcv.core.images.types import ImageSource
from mcv.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, InputError, McvError, SchemaMismatch
from mcv.plugins.actions import DesktopAction
from mcv.plugins.desktop import markup

NOTIFY_CHARS = 300  # a notification shows at most this much of an answer; longer ones go to a dialog
STOP_GRACE = 2.0  # seconds a cancelled turn gets to close itself before the session is closed under it


@dataclass(frozen=True)
class Result:
    label: str
    answer: str | None = None
    error: McvError | None = None


class NotAsked(McvError):
    """A file the job did not get to: the engine failed on an earlier one."""


class Cancelled(Exception):
    """The person pressed Cancel (or Ctrl-C): nothing more is asked."""


def run_desktop_job(
    env, action: DesktopAction, words: Sequence[str], *, output: str | None, flags: Mapping[str, Any], question: str | None = None
) -> int:
    """Run `action` on the files in `words`; returns the exit code (0, 1, 2, 3 some failed, 130 cancelled).
    `question`: the person's words, already given (`mcv snap --prompt`): no dialog asks for them."""
    from mcv.plugins.desktop.dialogs import choose_dialogs
    from mcv.plugins.desktop.notify import Notifier

    output = output or action.output
    dialogs = choose_dialogs(env.environ, stderr=env.stderr)
    notifier = Notifier() if output == "print" else Notifier.start()
    view = _View(env, action, output, dialogs, notifier)
    try:
        try:
            results = _ask_all(env, action, words, flags, view, question)
        finally:
            view.end_progress()
        view.present(results)  # the notifier is still needed here (the answer, "copied")
    except Cancelled:
        return EXIT_INTERRUPTED
    except McvError as err:
        view.failed(err)
        return err.exit_code
    finally:
        notifier.stop()
    return _exit_code(results)


def _ask_all(
    env, action: DesktopAction, words: Sequence[str], flags: Mapping[str, Any], view: "_View", question: str | None = None
) -> list[Result]:
    from mcv.core.presets import apply_preset, find_preset
    from mcv.core.session import Session
    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES
    from mcv.plugins.desktop.files import selected_files

    sources = selected_files(words, cwd=os.getcwd())
    if not sources:
        raise InputError(
            "no local file was selected", hint="select one or more images on this computer, then choose the action again"
        )
    settings = Settings.load(env.environ, flags=flags, pair_sources=SOURCES)
    if action.asks_question and not question:
        question = view.ask_question(sources)
    stop = threading.Event()
    with Session(settings) as session:
        preset = find_preset(settings.config, action.preset) if action.preset else None
        task = apply_preset(session, preset, question)
        view.start_progress(sources, session.parameters.model, stop.set)
        # describe / ocr / alt: each image its own answer; a question: one answer about all of them.
        groups = [sources] if action.asks_question else [[source] for source in sources]
        results: list[Result] = []
        for index, group in enumerate(groups):
            end = _answer(lambda: task.ask(session, group), stop)
            if isinstance(end, Done):
                results.append(Result(_label(group), answer=end.answer.strip()))
            elif isinstance(end.error, (InputError, SchemaMismatch)):
                results.append(Result(_label(group), error=end.error))  # this file only
            elif not results:
                raise end.error  # the engine itself failed: every other file would too
            else:  # ... but the answers already had are kept, shown with the failure
                skipped = NotAsked("not asked: the job stopped at the failure above")
                results.append(Result(_label(group), error=end.error))
                results += [Result(_label(rest), error=skipped) for rest in groups[index + 1 :]]
                break
        return results


def _label(group: Sequence[ImageSource]) -> str:
    return ", ".join(source.label for source in group)


def _answer(start, stop: threading.Event) -> Done | Failed:
    """Run one turn in a worker thread, so that Cancel is heard even while the engine has
    not said a word yet; raises Cancelled when `stop` is set."""
    end: list[Done | Failed | BaseException] = []
    finished = threading.Event()
    turn = start()  # images start preparing now

    def work() -> None:
        try:
            for event in turn:
                if stop.is_set():
                    break
                if isinstance(event, (Done, Failed)):
                    end.append(event)
        except BaseException as err:  # re-raised in the job's thread
            end.append(err)
        finally:
            turn.close()  # stops the engine (closes the stream) when the turn was not finished
            finished.set()

    threading.Thread(target=work, name="mcv-turn", daemon=True).start()
    try:
        while not finished.wait(0.1):
            if stop.is_set():
                break
    except KeyboardInterrupt:
        stop.set()
    if stop.is_set():
        finished.wait(STOP_GRACE)  # the worker closes the turn at its next event; else the session closes
        raise Cancelled()
    if isinstance(end[0], BaseException):
        raise end[0]
    return end[0]


def _failure(error: McvError) -> str:
    if isinstance(error, NotAsked):
        return f"({error.message})"
    return f"(failed: {error.message})" + (f"\nHow to fix it: {error.hint}" if error.hint else "")


def _exit_code(results: Sequence[Result]) -> int:
    failures = [result.error for result in results if result.error is not None]
    if not failures:
        return EXIT_OK
    if len(failures) == len(results):
        return failures[0].exit_code
    return EXIT_SOME_FAILED


class _View:
    """What the person sees of a job: progress, the question, the results, a failure."""

    def __init__(self, env, action: DesktopAction, output: str, dialogs, notifier) -> None:
        self.env, self.action, self.output = env, action, output
        self.dialogs, self.notifier = dialogs, notifier
        self._progress: str | None = None

    # --- before and during ---------------------------------------------------------------

    def ask_question(self, sources: Sequence[ImageSource]) -> str:
        what = sources[0].label if len(sources) == 1 else f"these {len(sources)} images"
        question = self.dialogs.ask(f"Ask about {what}", f"Your question about {what}:")
        if question is None or not question.strip():
            raise Cancelled()
        return question.strip()

    def start_progress(self, sources: Sequence[ImageSource], model: str, cancel) -> None:
        if self.output == "print":
            return
        what = sources[0].label if len(sources) == 1 else f"{len(sources)} images"
        self._progress = self.notifier.progress(
            f"{self.action.doing} {what}…", f"{model} is looking at it. This can take a minute.", cancel
        )

    def end_progress(self) -> None:
        self.notifier.close(self._progress)
        self._progress = None

    # --- after ----------------------------------------------------------------------------

    def failed(self, err: McvError) -> None:
        if self.output == "print":
            self.env.error(err)
            return
        self.dialogs.show_error(f"mcv: {self.action.label} failed", err.message, err.hint)

    def present(self, results: Sequence[Result]) -> None:
        answers = [result for result in results if result.error is None]
        if self.output == "print":
            self._print(results)
        elif not answers and len(results) == 1:
            self.failed(results[0].error)
        elif not answers:  # every file failed: nothing to copy, each failure shown
            self._dialog(results)
        elif self.output == "clipboard":
            self._copy(results)
        elif self.output == "notify" and self._notify(results):
            pass
        else:
            self._dialog(results)

    def _title(self, results: Sequence[Result]) -> str:
        what = results[0].label if len(results) == 1 else f"{len(results)} images"
        return f"{self.action.title} — {what}"

    def _text(self, results: Sequence[Result]) -> str:
        if len(results) == 1 and results[0].error is None:
            return results[0].answer or ""
        blocks = []
        for result in results:
            body = result.answer if result.error is None else _failure(result.error)
            blocks.append(f"{result.label}\n{body}")
        return "\n\n".join(blocks)

    def _print(self, results: Sequence[Result]) -> None:
        for result in results:
            if result.error is not None:
                message = result.error.message  # a file's own error names it already
                named = message if message.startswith(f"{result.label}: ") else f"{result.label}: {message}"
                self.env.error(McvError(named, hint=result.error.hint))
            elif len(results) == 1:
                self.env.stdout.write(f"{result.answer}\n")
            else:
                self.env.stdout.write(f"== {result.label} ==\n{result.answer}\n\n")
        self.env.stdout.flush()

    def _dialog(self, results: Sequence[Result]) -> None:
        text = self._text(results)
        if self.dialogs.show_text(self._title(results), text):
            problem = self._copy_text(text, announce=True)
            if problem is not None:
                self.dialogs.show_error("mcv: could not copy to the clipboard", problem.message, problem.hint)

    def _notify(self, results: Sequence[Result]) -> bool:
        text = self._text(results)
        if len(text) > NOTIFY_CHARS:
            return False  # a long answer gets the scrollable dialog
        return self.notifier.show(self._title(results), text)

    def _copy(self, results: Sequence[Result]) -> None:
        answers = [result for result in results if result.error is None]
        if len(results) == 1:
            text = answers[0].answer or ""
        else:
            text = "\n".join(f"{result.label}: {result.answer}" for result in answers)
        problem = self._copy_text(text, announce=False)
        if problem is not None:  # the text is not lost: it is shown instead
            self.dialogs.show_text(f"{self.action.title} (not copied: {problem.message})", self._text(results))
            return
        failures = [result for result in results if result.error is not None]
        title = f"{self.action.title} copied" + (f" ({len(failures)} failed)" if failures else "")
        shown = self.notifier.show(title, markup.shorten(self._text(results), NOTIFY_CHARS))
        if not shown or failures:
            self.dialogs.show_text(title, self._text(results))

    def _copy_text(self, text: str, *, announce: bool) -> McvError | None:
        """Copy `text`; the error when it could not be copied."""
        from mcv.core.text_clipboard import copy_text

        try:
            copy_text(text, environ=self.env.environ)
        except McvError as err:
            return err
        if announce:
            self.notifier.show("Copied to the clipboard", markup.shorten(text, 120))
        return None
