"""A batch from start to end, as a stream of events for a surface to show.

    for event in run_batch(settings, job):
        ...   # Started, Retrying?, ItemDone*, Note*, then Finished

The pieces, overlapped:
  inputs.py   PATH|GLOB... -> files (folders walked)
  prep.py     a process pool reads, hashes and prepares files ahead of the engines
  dispatch.py lanes (one per engine slot) ask the core session, retrying 503s and drops
  records.py  JSONL/CSV result file (appended, one write per record); resume.py reads it back
  sidecars.py IMAGE.txt / IMAGE.json, xmp.py XMP sidecars (atomic; never a file of the user's)

Everything is written by this thread (the generator's caller), in the
order answers arrive. Originals are only ever read. Closing the generator
(Ctrl-C) stops the lanes (their streams are closed), the workers and the
files; whatever was written stays whole.

Before anything is asked or written, every check that can fail is done:
the command line, the result file (`--resume`: all of it, and that it holds
answers to this same task), each image's sidecars (before its turn is
asked: a sidecar that would have to be refused costs no inference). An
image whose content was answered before (`--resume`) is not asked again:
under the same name it is counted, and gets any sidecar it lacks; under
another name (a copy, a renamed photo) it gets its own record, copied from
that answer, and its sidecars. A record that cannot be written to the
result file is that image's error, and stops the batch (the disk is full:
--resume continues).
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from mcv.core.batch.dispatch import (
    Answer,
    Endpoint,
    EndpointDown,
    Item,
    Lanes,
    Retry,
    default_lanes,
    default_slots,
    settings_for,
    spread,
)
from mcv.core.batch.inputs import Input, expand
from mcv.core.batch.prep import PrepPool, Prepared, prepare_file
from mcv.core.batch.records import Record, ResultFile
from mcv.core.batch.sidecars import Sidecars
from mcv.errors import McvError, UsageError


@dataclass
class BatchJob:
    """Everything a batch is asked to do (the command line, parsed: cli/batch_cmd.py builds it)."""

    inputs: list[str]  # PATH|GLOB...
    preset: Any = None  # core.presets.Preset, or None
    prompt: str | None = None  # --prompt: the task's words (after the preset's prompt, if any)
    options: dict[str, Any] = field(default_factory=dict)  # --option
    schema: dict[str, Any] | str | None = None  # --schema
    changes: dict[str, Any] = field(default_factory=dict)  # other Parameters fields (think, keep_alive)
    hosts: list[str] = field(default_factory=list)  # --host, repeated; [] = the configured one
    jobs: int | None = None  # -j: requests in flight; None = the engines' slots
    pages: str = "all"  # PDF pages of each PDF
    output: Path | None = None  # None: records go to the surface only (stdout)
    fmt: str = "jsonl"  # or "csv"
    resume: bool = False
    sidecar: str | None = None  # "txt" | "json"
    xmp: bool = False
    xmp_naming: str = "stem"  # "stem" (photo.xmp) | "full" (photo.jpg.xmp)
    overwrite: bool = False  # replace .txt/.json sidecars mcv did not write (sidecars.py)
    ledger: Path | None = None  # where mcv notes the .txt sidecars it wrote (ledger.py); None: none noted
    retry_delays: tuple[float, ...] | None = None  # None: dispatch.RETRY_DELAYS
    workers: int | None = None  # preparing processes; None: one per CPU
    prepare: Callable[..., Prepared] = prepare_file  # the worker function (tests inject a crashing one)


@dataclass
class Tally:
    total: int = 0  # images and PDF pages known so far
    answered: int = 0
    failed: int = 0
    skipped: int = 0  # not images (found by walking a folder)
    resumed: int = 0  # answered in an earlier run (--resume), under this name or (copied) another

    @property
    def finished(self) -> int:
        return self.answered + self.failed + self.skipped + self.resumed


@dataclass(frozen=True)
class Started:
    tally: Tally
    lanes: list[tuple[str, int]]  # (where, requests at once)
    workers: int
    earlier: int  # records already in the output (--resume)


@dataclass(frozen=True)
class ItemDone:
    record: Record
    tally: Tally


@dataclass(frozen=True)
class Note:
    text: str
    tally: Tally


@dataclass(frozen=True)
class Finished:
    tally: Tally
    seconds: float
    stopped: McvError | None = None  # the batch could not go on (every engine gone)


Event = Started | ItemDone | Note | Finished


def run_batch(settings, job: BatchJob) -> Iterator[Event]:
    """Run `job`; events as it goes (module docstring). McvError before anything starts."""
    return _Run(settings, job).events()


class _Run:
    def __init__(self, settings, job: BatchJob) -> None:
        self.settings = settings
        self.job = job
        self.tally = Tally()
        self.results: "queue.Queue[Any]" = queue.Queue()
        self.started = time.monotonic()
        self._ahead = 0  # files being prepared + images waiting or being answered
        self._limit = 1  # how far preparation may run ahead of the answers
        self._ahead_lock = threading.Condition()
        self._stop = threading.Event()
        self._pool: PrepPool | None = None
        self._lanes: Lanes | None = None
        self._outstanding_files = 0
        self._suspects: list[Input] = []  # files in flight when a worker crashed: retried one by one
        self._isolated: PrepPool | None = None  # the pool a suspect runs in, alone
        self._alone: Future | None = None  # the suspect running there
        self._model = settings.config.get("model")
        self._output: ResultFile | None = None
        self._task: str | None = None  # records.py `task`
        self._stopped: McvError | None = None  # the result file took no more records

    # --- setting up ---------------------------------------------------------------------------

    def _check(self) -> tuple[list[Input], list]:
        job = self.job
        if job.resume and job.output is None:
            raise UsageError("--resume needs --output FILE (the results it continues)")
        if job.sidecar not in (None, "txt", "json"):
            raise UsageError(f"--sidecar takes txt or json, not {job.sidecar!r}")
        if job.xmp and self._xmp_field() is None:
            raise UsageError(
                f"preset {job.preset.name!r} has no XMP field to write",
                hint="--xmp writes describe, caption, alt or tags answers (or a preset with `xmp = ...`)",
            )
        target = os.path.realpath(job.output) if job.output is not None else None
        inputs, unlisted = expand(job.inputs, leave_out=[target] if target else [])
        if not inputs and not unlisted:
            raise UsageError("no files to work on in " + ", ".join(job.inputs))
        if target is not None and any(os.path.realpath(item.path) == target for item in inputs):
            raise UsageError(f"--output {job.output} is one of the inputs: it is never written over")
        return inputs, unlisted

    def _xmp_field(self) -> str | None:
        return self.job.preset.xmp if self.job.preset is not None else "description"

    def _setup(self, session):
        """The task on one session: the preset, then the command line's own options and schema."""
        from mcv.core.presets import apply_preset

        job = self.job
        task = apply_preset(session, job.preset, job.prompt)
        session.parameters = session.parameters.merged(options=job.options, format=job.schema, **job.changes)
        return task

    def _task_digest(self, session, task) -> str:
        """What shapes the answers, as a short digest (records.py `task`): --resume continues only it."""
        parameters = session.parameters
        basis = {
            "preset": self._preset_name,
            "prompt": task.prompt,
            "max_chars": task.max_chars,
            "system": session.system,
            "options": dict(parameters.options),
            "format": parameters.format,
            "think": parameters.think,
            "max_pixels": session.prepare_settings.max_pixels,
            "model": parameters.model,
        }
        text = json.dumps(basis, sort_keys=True, default=str)
        return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]

    @property
    def _preset_name(self) -> str | None:
        return self.job.preset.name if self.job.preset is not None else None

    def _engines(self) -> tuple[list[str | tuple[str, ...] | None], str]:
        """The engines' hosts ([None]: the configured engine) and the backend to ask them with. Several
        --host are ONE engine: the Ollama backend spreads requests over them (core/backends/ollama_pool.py)."""
        hosts = list(self.job.hosts)
        backend = self.settings.backend
        if len(hosts) > 1:
            if backend not in ("auto", "ollama"):
                raise UsageError(f"--host names Ollama daemons; --backend {backend} has none")
            return [tuple(hosts)], "ollama"  # several daemons: never a local fallback in their stead
        return hosts or [None], backend

    def _session_for(self, host: str | None, backend: str):
        from mcv.core.session import Session

        session = Session(settings_for(self.settings, backend=backend, **({"host": host} if host else {})))
        return session, self._setup(session)

    def _open_endpoints(self, first, hosts: list[str | None], backend: str) -> tuple[list[Endpoint], list[str]]:
        """Probe each engine (the first through `first`, a session already set up): endpoints and notes."""
        endpoints: list[Endpoint] = []
        notes: list[str] = []
        errors: list[McvError] = []
        for n, host in enumerate(hosts):
            session = first if n == 0 else self._session_for(host, backend)[0]
            try:
                route = session.route()
            except McvError as err:
                session.close()
                if len(hosts) == 1:
                    raise
                errors.append(err)
                notes.append(f"left out: {err.message}")
                continue
            pinned = settings_for(session.settings, backend=route.backend)
            slots = default_slots(route, self.settings.environ, session.engine_slots())
            endpoint = Endpoint(pinned, route, slots, servers=session.engine_servers() or 1)
            if n == 0:
                endpoint.session = session  # its first lane goes on with it
            else:
                session.close()
            endpoints.append(endpoint)
        if not endpoints:
            raise errors[0]
        return endpoints, notes

    # --- running ------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        job = self.job
        inputs, unlisted = self._check()
        output = ResultFile(job.output, job.fmt, resume=job.resume) if job.output is not None else None
        self._output = output
        first = lanes = None
        endpoints: list[Endpoint] = []
        try:
            hosts, backend = self._engines()
            first, task = self._session_for(hosts[0], backend)
            self._task = self._task_digest(first, task)
            if output is not None:
                output.earlier.check_task(self._task, self._preset_name, first.parameters.model, output.path)
                output.open()  # every check passed: from here on the file is written to
            done = output.earlier.done if output else frozenset()
            self._sidecars = self._plan_sidecars(inputs)
            # Files start preparing (workers spawning, first decodes) while the engines are probed.
            self._prepare_settings = replace(first.prepare_settings, pages=job.pages)
            self._done = done
            workers = min(job.workers or os.cpu_count() or 1, max(1, len(inputs)))
            self._pool = PrepPool(workers, self._prepare_settings, done, function=job.prepare)
            self._limit = 2 + workers
            self._outstanding_files = len(inputs)
            threading.Thread(target=self._feed, args=(inputs,), daemon=True, name="mcv-batch-feed").start()

            endpoints, notes = self._open_endpoints(first, hosts, backend)
            first = None  # closed, or kept by its endpoint for a lane
            counts = spread(job.jobs, endpoints) if job.jobs else [default_lanes(e) for e in endpoints]
            if job.jobs and any(e.route.pair is not None for e in endpoints) and job.jobs > sum(counts):
                notes.append("the in-process engine answers one image at a time (-j has no effect on it)")
            lanes = self._lanes = Lanes(
                endpoints,
                make_session=self._lane_session,
                ask=lambda session, item: task.ask(session, [item.image]),
                results=self.results,
                stop=self._stop,
                **({"delays": job.retry_delays} if job.retry_delays is not None else {}),
            )
            with self._ahead_lock:  # keep about two images ready for every lane
                self._limit = 2 * sum(counts) + workers
                self._ahead_lock.notify_all()
            self.tally.total = len(inputs) + len(unlisted)
            yield Started(
                replace(self.tally),
                [(e.where, n) for e, n in zip(endpoints, counts) if n],
                workers,
                output.earlier.records if output else 0,
            )
            for note in notes:
                yield Note(note, replace(self.tally))
            for folder in unlisted:
                error = f"{folder.label}: {folder.reason}"
                yield self._record(Record(folder.label, error=error, path_escaped=folder.escaped, **self._asked))
            lanes.start(counts)
            yield from self._collect()
        finally:
            self._stop.set()
            if first is not None:
                first.close()
            if lanes is not None:
                lanes.close()
            for endpoint in endpoints:
                if endpoint.session is not None:  # never handed to a lane
                    endpoint.session.close()
            if self._pool is not None:
                self._pool.close()
            if self._isolated is not None:
                self._isolated.close()
            if output is not None:
                output.close()

    def _plan_sidecars(self, inputs: list[Input]) -> Sidecars:
        from mcv.core.batch.ledger import Ledger

        job = self.job
        return Sidecars(
            job.sidecar,
            self._xmp_field() if job.xmp else None,
            job.xmp_naming,
            overwrite=job.overwrite,
            ledger=Ledger(job.ledger) if job.sidecar == "txt" else None,
            images=[(unit.path, unit.label) for unit in inputs],
        )

    @property
    def _asked(self) -> dict[str, Any]:
        """What every record of this batch says about the task."""
        return {"preset": self._preset_name, "task": self._task, "structured": self._structured}

    def _lane_session(self, endpoint: Endpoint):
        from mcv.core.session import Session

        session = Session(endpoint.settings)
        self._setup(session)
        return session

    def _feed(self, inputs: list[Input]) -> None:
        for unit in inputs:
            with self._ahead_lock:
                while self._ahead >= self._limit and not self._stop.is_set():
                    self._ahead_lock.wait(0.2)
                if self._stop.is_set():
                    return
                self._ahead += 1
            self._submit(self._pool, unit)

    def _submit(self, pool: PrepPool, unit: Input) -> Future:
        try:
            future = pool.submit(unit.path, unit.label, unit.named)
        except Exception as err:  # the pool is shutting down, or a bug: the file fails, nothing hangs
            future = Future()
            future.set_exception(err)
        future.add_done_callback(lambda f, unit=unit: self.results.put((unit, f)))
        return future

    def _release(self, count: int = 1) -> None:
        with self._ahead_lock:
            self._ahead -= count
            self._ahead_lock.notify_all()

    def _collect(self) -> Iterator[Event]:
        waiting_items = 0  # images handed to the lanes, not answered yet
        while self._outstanding_files or waiting_items:
            try:  # a timeout: Python runs a signal's handler in this thread only when it wakes
                message = self.results.get(timeout=0.5)  # (Ctrl-C delivered to another thread)
            except queue.Empty:
                continue
            if isinstance(message, tuple):  # a file prepared (or not)
                unit, future = message
                outcome = self._prepared(unit, future)
                if outcome is None:
                    continue  # a crashed worker: the file waits its turn among the suspects
                self._outstanding_files -= 1
                self._release()
                images = len(outcome.pages) + len(outcome.already)  # a PDF's pages each count; a failed file once
                self.tally.total += images - 1 if images else 0
                if outcome.error is not None:
                    failed = self._file_record(unit, outcome.sha256, error=outcome.error, skipped=outcome.skipped)
                    yield self._record(failed)
                for page in outcome.already:
                    event = self._answered_before(unit, outcome.sha256, page)
                    if event is not None:
                        yield event
                for page, image in outcome.pages:
                    problem = self._sidecars.problem(unit.label, unit.path, page)
                    if problem is not None:  # not asked: its answer could not be kept where it was asked for
                        yield self._record(self._file_record(unit, outcome.sha256, page, error=problem))
                        continue
                    waiting_items += 1
                    with self._ahead_lock:
                        self._ahead += 1
                    self._lanes.put(Item(unit, outcome.sha256, page, image))
            elif isinstance(message, Answer):
                waiting_items -= 1
                self._release()
                if message.done is None and message.error is None:
                    continue  # stopped mid-answer: not written, asked again on --resume
                yield self._record(self._answer_record(message))
            elif isinstance(message, Retry):
                yield Note(
                    f"{message.item.label}: {message.error.message}; asking again in {message.delay:.1f} s "
                    f"(attempt {message.attempt + 1})",
                    replace(self.tally),
                )
            elif isinstance(message, EndpointDown):
                if message.others_left:
                    yield Note(f"{message.endpoint.where} stopped answering; going on without it", replace(self.tally))
                    continue
                yield Finished(replace(self.tally), time.monotonic() - self.started, stopped=message.error)
                return
            if self._stopped is not None:
                yield Finished(replace(self.tally), time.monotonic() - self.started, stopped=self._stopped)
                return
        yield Finished(replace(self.tally), time.monotonic() - self.started)

    def _answered_before(self, unit: Input, sha256: str, page: int | None) -> ItemDone | None:
        """An image (or PDF page) whose content has an answer in the result file (--resume)."""
        earlier = self._output.earlier
        key = (sha256, page)
        answer = earlier.answers[key]
        record = self._file_record(
            unit, sha256, page, answer=answer.get("answer"), data=answer.get("data"), model=answer.get("model")
        )
        if earlier.recorded_at(key, unit.label, unit.escaped, unit.path):  # this very file: counted
            problem = self._sidecars.write(record, only_missing=True)
            if problem is None:
                self.tally.resumed += 1
                return None
            record.error = problem
            return self._record(record)
        record.copied_from = answer.get("path")  # the same content under another name: its own record
        return self._record(record, copied=True)

    def _prepared(self, unit: Input, future: Future) -> Prepared | None:
        """The worker's result for `unit`; None when a crashed worker made it a suspect.

        A crash breaks every file in flight. Those files are then prepared
        one at a time in a pool of their own: a file that breaks that pool
        too is the one the decoder crashed on; the others are answered.
        """
        alone = future is self._alone
        try:
            return future.result()
        except BrokenProcessPool:
            if alone:
                self._isolated.restart_after(future)
                return Prepared(error=f"{unit.label}: the image decoder crashed on it")
            self._pool.restart_after(future)
            self._suspects.append(unit)
            return None
        except Exception as err:  # pickling, a bug: the file fails, the batch goes on
            return Prepared(error=f"{unit.label}: could not be prepared ({type(err).__name__}: {err})")
        finally:
            if alone:
                self._alone = None
            if self._alone is None and self._suspects:
                if self._isolated is None:
                    self._isolated = PrepPool(1, self._prepare_settings, self._done, function=self.job.prepare)
                self._alone = self._submit(self._isolated, self._suspects.pop(0))

    def _answer_record(self, answer: Answer) -> Record:
        item = answer.item
        model = answer.endpoint.route.model if answer.endpoint else self._model
        if answer.done is not None:
            done = answer.done
            metrics = done.metrics.as_dict() if done.metrics is not None else None
            return self._file_record(
                item.unit, item.sha256, item.page, answer=done.answer, data=done.data, metrics=metrics, model=model
            )
        return self._file_record(
            item.unit, item.sha256, item.page, answer=answer.raw or None, error=answer.error.message, model=model
        )

    def _file_record(self, unit: Input, sha256: str | None, page: int | None = None, **fields: Any) -> Record:
        return Record(unit.label, sha256, page, path_escaped=unit.escaped, file=unit.path, **self._asked, **fields)

    @property
    def _structured(self) -> bool:
        schema = self.job.schema if self.job.schema is not None else getattr(self.job.preset, "schema", None)
        return schema is not None

    def _record(self, record: Record, *, copied: bool = False) -> ItemDone:
        """Sidecars first (a failure there is the record's error), then the result file.

        A record the result file cannot take is that image's error, and stops the batch."""
        if record.answered:
            problem = self._sidecars.write(record)
            if problem:
                record.error = problem
        if self._output is not None:
            try:
                if self._stopped is not None:
                    raise self._stopped
                self._output.write(record)
            except McvError as err:
                self._stopped = err
                if record.answered:
                    record.error = f"{record.path}: answered, but not kept: {err.message}"
        if record.answered:
            if copied:
                self.tally.resumed += 1
            else:
                self.tally.answered += 1
        elif record.skipped:
            self.tally.skipped += 1
        else:
            self.tally.failed += 1
        return ItemDone(record, replace(self.tally))
