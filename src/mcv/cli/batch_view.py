"""What `mcv batch` does once its options are parsed: build the job, run the core batch engine, show it.

On a terminal (stderr) a rich progress bar: done/total, images per second,
ETA, failures; failures and retries are printed above it. Piped, one plain
line per image on stderr. The records go to stdout (JSONL or CSV) unless
--output names a file; a summary and the list of failures end the run.
"""

from __future__ import annotations

import signal
from contextlib import contextmanager
from typing import Any, Iterator, Mapping, Sequence

from mcv.errors import EXIT_INTERRUPTED, EXIT_OK, EXIT_SOME_FAILED, UsageError


def run_batch_command(
    env,
    *,
    flags: Mapping[str, Any],
    paths: Sequence[str],
    preset: str | None,
    prompt: str | None,
    options: Sequence[str],
    schema: str | None,
    think: bool | None,
    hosts: Sequence[str],
    jobs: int | None,
    pages: str,
    output,
    fmt: str,
    resume: bool,
    sidecar: str | None,
    xmp: bool,
    xmp_naming: str,
    quiet: bool,
) -> int:
    from mcv.core.arguments import load_schema, parse_options
    from mcv.core.batch import BatchJob, run_batch
    from mcv.core.presets import find_preset
    from mcv.core.settings import Settings
    from mcv.packaging.local_pairs import SOURCES

    if not preset and not (prompt and prompt.strip()):
        raise UsageError("say what to ask: --preset NAME or --prompt TEXT", hint="see `mcv presets ls`")
    settings = Settings.load(env.environ, flags=flags, pair_sources=SOURCES)
    job = BatchJob(
        inputs=list(paths),
        preset=find_preset(settings.config, preset) if preset else None,
        prompt=prompt,
        options=parse_options(options),
        schema=load_schema(schema) if schema else None,
        changes={"think": think},
        hosts=list(hosts),
        jobs=jobs,
        pages=pages,
        output=output,
        fmt=fmt,
        resume=resume,
        sidecar=sidecar,
        xmp=xmp,
        xmp_naming=xmp_naming,
    )
    view = BatchView(env, records_to_stdout=output is None, fmt=fmt, quiet=quiet)
    events = run_batch(settings, job)
    with _sigterm_interrupts():
        try:
            for event in events:
                view.show(event)
        except KeyboardInterrupt:
            events.close()  # lanes stop, workers end, files are closed whole
            view.interrupted()
            return EXIT_INTERRUPTED
        finally:
            view.close()
    return view.exit_code


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops a batch as Ctrl-C does (lines whole, workers ended), not mid-write."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread (tests run mcv in threads sometimes)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
            self._say(event.text)
        elif isinstance(event, Finished):
            self._finished(event)

    def _started(self, event) -> None:
        lanes = ", ".join(f"{where} ({n} at once)" for where, n in event.lanes)
        earlier = f"; {event.earlier} records already in the output" if event.earlier else ""
        if not self.quiet:
            self.env.note(f"{event.tally.total} files; asking {lanes}; preparing in {event.workers} processes{earlier}")
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
        elif not self.quiet or (record.error and not record.skipped):
            state = "ok" if record.answered else ("skipped: " if record.skipped else "failed: ") + (record.error or "")
            where = record.path + (f" page {record.page}" if record.page is not None else "")
            if record.error:
                state = ("skipped: " if record.skipped else "failed: ") + record.error.removeprefix(record.path + ": ")
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
            self.env.discard_stdout()
            raise KeyboardInterrupt from None  # the reader went away: stop the batch as Ctrl-C would

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
            self.env.note(f"stopped with {pending} images not asked; run it again with --resume to go on")
            self.exit_code = event.stopped.exit_code

    def interrupted(self) -> None:
        self.close()
        self.env.stderr.write("mcv: interrupted; what was answered is kept (--resume continues)\n")
        self.env.stderr.flush()

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
