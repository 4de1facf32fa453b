"""What `mcv batch` does once its options are parsed: build the job, run the core batch engine, show it.

On a terminal (stderr) a rich progress bar: done/total, images per second,
ETA, failures; failures and retries are printed above it. Piped, one plain
line per image on stderr. `-q`: neither, only the summary and the list of
failures. The records go to stdout (JSONL or CSV) unless --output names a
file; a summary and the list of failures end the run. A reader of stdout
that goes away (`| head`) ends the batch quietly, as `mcv ask` does.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

from mcv.core.units import counted
from mcv.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED


def run_batch_job(env, settings, job, *, quiet: bool) -> int:
    """Run `job` (core.batch.BatchJob, built by batch_cmd.py) and show it; the exit code."""
    from mcv.core.batch import run_batch

    view = BatchView(env, records_to_stdout=job.output is None, fmt=job.fmt, quiet=quiet)
    events = run_batch(settings, job)
    with _interrupts() as interrupts:
        try:
            for event in events:
                if interrupts.raised:  # its KeyboardInterrupt was swallowed on the way (a __del__): stop now
                    raise KeyboardInterrupt
                view.show(event)
        except _ReaderGone:
            events.close()  # `mcv batch ... | head`: the reader has what it wanted; stop quietly
            view.close()
            env.discard_stdout()
            return EXIT_OK
        except KeyboardInterrupt:
            events.close()  # lanes stop, workers end, files are closed whole
            view.interrupted()
            return EXIT_INTERRUPTED
        finally:
            view.close()
    return view.exit_code


class _ReaderGone(Exception):
    """Whoever read the records on stdout went away (a broken pipe)."""


class _Interrupt:
    """The SIGINT and SIGTERM handler of a batch: the first stops it (KeyboardInterrupt, caught
    above); more, while it stops, are dropped, so that the lanes, workers and files are closed
    whole rather than left half done by a second KeyboardInterrupt in the middle of that."""

    def __init__(self) -> None:
        self.raised = False

    def __call__(self, signum, frame) -> None:
        if not self.raised:
            self.raised = True
            raise KeyboardInterrupt

    def unraisable(self, unraisable) -> bool:
        """True for our KeyboardInterrupt, raised where it cannot propagate (a weakref callback
        of an import lock, a __del__): Python would print it as `Exception ignored` and go on.
        It is sent again, to the main thread, once out of there."""
        if not (self.raised and isinstance(unraisable.exc_value, KeyboardInterrupt)):
            return False
        self.raised = False
        again = threading.Timer(0.02, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
        again.daemon = True
        again.start()
        return True


@contextmanager
def _interrupts() -> Iterator[_Interrupt]:
    """Ctrl-C and SIGTERM stop a batch the same way (records whole, workers ended), once.

    A signal the process was started ignoring (`mcv batch ... &` from a script: the shell
    makes background jobs ignore SIGINT) stays ignored, as for any program."""
    handler = _Interrupt()
    previous = {}
    try:
        for number in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(number) is not signal.SIG_IGN:
                previous[number] = signal.signal(number, handler)
    except ValueError:  # not the main thread (tests run mcv in threads sometimes)
        pass
    previous_hook = sys.unraisablehook

    def unraisable_hook(unraisable) -> None:
        if not handler.unraisable(unraisable):
            previous_hook(unraisable)

    if previous:
        sys.unraisablehook = unraisable_hook
    try:
        yield handler
    finally:
        if previous:
            sys.unraisablehook = previous_hook
        for number, before in previous.items():
            signal.signal(number, before)


class BatchView:
    def __init__(self, env, *, records_to_stdout: bool, fmt: str, quiet: bool) -> None:
        self.env = env
        self.records_to_stdout = records_to_stdout
        self.fmt = fmt
        self.quiet = quiet
        self.failures: list[str] = []
        self.exit_code = EXIT_OK
        self._progress = None
        self._task = None
        self._header_written = False
        self._stopped = None

    # --- events ---------------------------------------------------------------------------------

    def show(self, event) -> None:
        from mcv.core.batch import Finished, ItemDone, Note, Started

        if isinstance(event, Started):
            self._started(event)
        elif isinstance(event, ItemDone):
            self._item(event)
        elif isinstance(event, Note):
            if not self.quiet:  # retries, a daemon left out: the summary says what came of them
                self._say(event.text)
        elif isinstance(event, Finished):
            self._finished(event)

    def _started(self, event) -> None:
        if self.quiet:
            return
        lanes = ", ".join(f"{where} ({n} at once)" for where, n in event.lanes)
        earlier = f"; {counted(event.earlier, 'record')} already in the output" if event.earlier else ""
        self.env.note(f"{counted(event.tally.total, 'file')}; asking {lanes}; preparing in {counted(event.workers, 'process', 'processes')}{earlier}")
        if self.env.stderr_isatty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TimeRemainingColumn(),
                TextColumn("{task.fields[failed]}"),
                console=self.env.console(stderr=True),
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task("batch", total=event.tally.total, rate="", failed="")

    def _item(self, event) -> None:
        record, tally = event.record, event.tally
        if self.records_to_stdout:
            self._write_record(record)
        if record.error and not record.skipped:
            self.failures.append(record.error)
        if self._progress is not None:
            task = self._progress.tasks[0]
            elapsed = task.elapsed or 0.0
            rate = f"{tally.finished / elapsed:.1f} img/s" if elapsed > 0.5 else ""
            failed = f"[red]{tally.failed} failed[/red]" if tally.failed else ""
            self._progress.update(self._task, total=tally.total, completed=tally.finished, rate=rate, failed=failed)
            if record.error and not record.skipped:
                self._say(record.error)
        elif not self.quiet:
            state = "copied from " + record.copied_from if record.copied_from else "ok"
            if record.error:
                state = ("skipped: " if record.skipped else "failed: ") + record.error.removeprefix(record.path + ": ")
            where = record.path + (f" page {record.page}" if record.page is not None else "")
            self.env.note(f"[{tally.finished}/{tally.total}] {where} {state}")

    def _write_record(self, record) -> None:
        from mcv.core.batch.records import csv_header, record_line

        text = record_line(record, self.fmt)
        if self.fmt == "csv" and not self._header_written:
            text = csv_header() + text
            self._header_written = True
        if self._progress is not None and self.env.stdout_isatty:
            self._progress.console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)
            return
        try:
            self.env.stdout.write(text)
            self.env.stdout.flush()
        except BrokenPipeError:
            raise _ReaderGone from None

    def _finished(self, event) -> None:
        tally = event.tally
        self.close()
        parts = [f"{tally.answered} answered"]
        if tally.failed:
            parts.append(f"{tally.failed} failed")
        if tally.skipped:
            parts.append(f"{tally.skipped} skipped (not images)")
        if tally.resumed:
            parts.append(f"{tally.resumed} answered before (--resume)")
        done = tally.answered + tally.failed
        rate = f", {done / event.seconds:.2f} images/s" if done and event.seconds > 0 else ""
        self.env.note(", ".join(parts) + f" in {event.seconds:.1f} s{rate}")
        if self.failures:
            self.env.note("failed:")
            for line in self.failures:
                self.env.stderr.write(f"  {line}\n")
            self.env.stderr.flush()
            self.exit_code = EXIT_SOME_FAILED
        if event.stopped is not None:
            pending = tally.total - tally.finished
            self.env.error(event.stopped)
            self.env.note(f"stopped with {pending} images not asked; {self._go_on}")
            self.exit_code = event.stopped.exit_code

    def interrupted(self) -> None:
        self.close()
        self.env.stderr.write(f"mcv: interrupted; {self._go_on}\n")
        self.env.stderr.flush()

    @property
    def _go_on(self) -> str:
        if self.records_to_stdout:  # --resume reads an --output file back: there is none
            return "the records printed are whole (--output FILE lets --resume go on)"
        return "what was answered is kept (--resume continues)"

    def _say(self, text: str) -> None:
        if self._progress is not None:
            from rich.markup import escape

            self._progress.console.print(escape(text), highlight=False)
        else:
            self.env.note(text)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
