"""The core session: the one way every surface asks MiniCPM-V something.

    settings = Settings.load(environ, flags=..., pair_sources=...)
    with Session(settings, stdin=...) as session:
        session.parameters = session.parameters.merged(options={"num_ctx": 8192})
        for event in session.ask([photo], "read the total"):
            ...   # Routed, ImageReady, ThinkingChunk, TextChunk, then Done or Failed

What happens in a turn, in order:
1. images are checked (readable, an image, pages that parse) and start
   preparing in a worker thread as soon as the question is asked (Pillow
   decodes and resizes without the GIL), while
2. the engine for the model is chosen and probed (routing.py; once per
   session and model) and the request is checked against what it can do:
   vision for images, thinking, the options it honours;
3. the answer streams as events; errors end the turn as `Failed` with the
   typed McvError, so a surface shows them and decides what happens next.

A session is used from one thread at a time; a batch opens one per worker.
Closing a turn early (or Ctrl-C in the loop over it) closes the backend
stream, which stops the generation.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import TYPE_CHECKING, BinaryIO, Generator, Sequence

from mcv.core.backends.base import Capabilities, ChatRequest, Parameters
from mcv.core.events import Done, Event, Failed, ImageReady, Route, Routed, TextChunk, ThinkingChunk
from mcv.core.images.types import ImageSource, PreparedImage, PrepareSettings
from mcv.core.settings import Settings
from mcv.errors import CapabilityError, McvError, StreamError, UsageError

if TYPE_CHECKING:
    from mcv.core.conversation import Conversation


class Session:
    def __init__(self, settings: Settings, *, stdin: BinaryIO | None = None) -> None:
        self.settings = settings
        self.stdin = stdin  # where an image named `-` is read from
        # Defaults for every turn; surfaces change them (flags, presets, chat commands).
        self.parameters: Parameters = settings.parameters()
        self.prepare_settings: PrepareSettings = settings.prepare_settings()
        self.system: str | None = settings.system()
        self._route: Route | None = None
        self._backend = None
        self._fresh = False  # the route was just chosen: no turn has reported it yet

    # --- asking ------------------------------------------------------------------

    def ask(self, images: Sequence[ImageSource | PreparedImage], prompt: str | None = None) -> "Turn":
        """One question about `images`: a conversation of one turn."""
        return self.conversation().send(prompt, images)

    def conversation(self, *, system: str | None = None) -> "Conversation":
        from mcv.core.conversation import Conversation

        return Conversation(self, system=self.system if system is None else system)

    def prepare(self, sources: Sequence[ImageSource]) -> list[PreparedImage]:
        """Prepare images now (InputError for an unusable one)."""
        from mcv.core.images.prepare import prepare

        images: list[PreparedImage] = []
        for source in sources:
            images.extend(prepare(source, self.prepare_settings, stdin=self.stdin))
        return images

    # --- the engine ----------------------------------------------------------------

    def route(self, model: str | None = None) -> Route:
        """Choose and open the engine for `model` (default: the session's), once."""
        from mcv.core.ollama.names import same_model
        from mcv.core.routing import open_route

        model = model or self.parameters.model
        if self._route is not None and (self._route.model == model or same_model(self._route.model, model)):
            return self._route
        self._close_backend()
        self._route, self._backend = open_route(self.settings, model)
        self._fresh = True
        return self._route

    def capabilities(self, model: str | None = None) -> Capabilities:
        """What the engine for `model` (default: the session's) can do; opens the route if needed."""
        model = model or self.parameters.model
        self.route(model)
        return self._backend.capabilities(model)

    def known_capabilities(self, model: str | None = None) -> Capabilities | None:
        """What the engine for `model` can do when it is open already; None otherwise
        (nothing is opened: a chat can change a setting while the daemon is down)."""
        from mcv.core.ollama.names import same_model

        model = model or self.parameters.model
        route = self._route
        if route is None or self._backend is None or not (route.model == model or same_model(route.model, model)):
            return None
        return self._backend.capabilities(model)

    def running_context(self) -> int | None:
        """The context the engine runs the session's model with right now, when it can say
        (Ollama's /api/ps for a loaded model); None otherwise, or when no engine is open."""
        probe = getattr(self._backend, "loaded_context", None)
        return probe(self.parameters.model) if probe is not None else None

    def engine_slots(self) -> int | None:
        """Requests the open engine answers at once when it can say (an engine over several
        servers: their slots together); None otherwise, or when no engine is open."""
        slots = getattr(self._backend, "slots", None)
        return slots if isinstance(slots, int) else None

    def engine_servers(self) -> int | None:
        """Servers the open engine spreads its requests over (several --base-url or --host); None
        when it is not such an engine, or none is open."""
        pool = getattr(self._backend, "pool", None)
        return len(pool.endpoints) if pool is not None else None

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` by the engine's own tokenizer when it has one loaded in
        process; None otherwise (callers estimate)."""
        count = getattr(self._backend, "count_tokens", None)
        return count(text) if count is not None else None

    def close(self) -> None:
        self._close_backend()

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_backend(self) -> None:
        backend, self._backend, self._route = self._backend, None, None
        if backend is not None:
            backend.close()

    # --- one turn ----------------------------------------------------------------------

    def _start(self, conversation, prompt: str | None, sources: Sequence[ImageSource]) -> "Turn":
        """A turn whose images start preparing now, while the caller sets up
        whatever shows it; the engine is found when the turn is iterated."""
        from mcv.core.images.prepare import precheck

        try:
            for source in sources:  # a missing file is refused before any engine is asked
                precheck(source, self.prepare_settings)
        except McvError as err:
            return Turn(_failed(err))
        preparing = _InBackground(self.prepare, sources) if sources else None
        return Turn(self._turn(conversation, prompt, sources, preparing))

    def _turn(
        self, conversation, prompt: str | None, sources: Sequence[ImageSource], preparing: "_InBackground | None"
    ) -> Generator[Event, None, None]:
        parameters = self.parameters
        text: list[str] = []
        question = None  # the user message, once the request is built
        recorded = False
        try:
            route = self.route(parameters.model)
            yield Routed(route, fresh=self._fresh)
            self._fresh = False
            capabilities = self._backend.capabilities(parameters.model)
            image_count = len(conversation.images()) + len(conversation.pending) + len(sources)
            parameters = settle(parameters, capabilities, route, image_count)
            if preparing is not None:
                new_images = preparing.result()
                conversation.pending.extend(new_images)
                for image in new_images:
                    yield ImageReady(image)
            request = ChatRequest(conversation.messages_with(prompt), parameters)
            question = request.messages[-1]
            thinking: list[str] = []
            final = None
            stream = self._backend.chat(request)
            try:
                for chunk in stream:
                    if chunk.thinking:
                        thinking.append(chunk.thinking)
                        yield ThinkingChunk(chunk.thinking)
                    if chunk.text:
                        text.append(chunk.text)
                        yield TextChunk(chunk.text)
                    if chunk.done:
                        final = chunk
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()  # early exit (Ctrl-C, a closed turn): the engine stops generating
            if final is None:  # the protocol says a last chunk has done=True
                raise StreamError(f"{route.where} ended the answer before it was done", partial="".join(text))
            done = Done("".join(text), "".join(thinking), final.done_reason, final.metrics)
            conversation.record(question, done.answer, done=done)
            recorded = True
            yield done
        except McvError as err:
            partial = err.partial if isinstance(err, StreamError) and err.partial else "".join(text)
            yield Failed(err, partial)
        except (GeneratorExit, KeyboardInterrupt):
            # Stopped mid-answer: what the user saw is kept, marked; stopped
            # before any text, the conversation stays as it was.
            if question is not None and text and not recorded:
                conversation.record(question, "".join(text), interrupted=True)
            raise


def settle(parameters: Parameters, capabilities: Capabilities, route: Route, image_count: int) -> Parameters:
    """The request as this engine will run it, or a refusal before anything is sent or decoded.

    Thinking is off unless asked for: Ollama turns it on by default for a
    model that can think (MiniCPM-V 4.5), mcv's default is a direct answer,
    so it says `think: false` explicitly. A model that cannot think is sent no
    `think` at all (`true` is refused above; Ollama answers 400 to it).
    """
    if image_count and capabilities.vision is False:
        raise CapabilityError(
            f"model '{parameters.model}' has no vision capability, so it cannot look at images",
            hint="use a vision model (e.g. -m minicpm-v), or package one with `mcv model create`",
        )
    if parameters.think and not capabilities.thinking:
        raise CapabilityError(
            f"model '{parameters.model}' has no thinking capability", hint="leave out --think for this model"
        )
    if parameters.format is not None and not capabilities.json_schema:
        raise CapabilityError(
            f"{route.where} cannot constrain answers to JSON for '{parameters.model}'", hint="leave out --schema"
        )
    unsupported = sorted(set(parameters.options) - capabilities.options)
    if unsupported:
        raise unsupported_option(unsupported[0], route, capabilities)
    if capabilities.thinking:
        return parameters if parameters.think is not None else parameters.merged(think=False)
    return replace(parameters, think=None)


def unsupported_option(name: str, route: Route, capabilities: Capabilities) -> UsageError:
    """The refusal of an option the engine does not honour (saying which engine, and what it takes)."""
    return UsageError(
        f"option '{name}' is not supported by the {route.backend} backend: {route.where}",
        hint="supported here: " + ", ".join(sorted(capabilities.options)),
    )


def _failed(error: McvError) -> Generator[Event, None, None]:
    yield Failed(error)


class Turn:
    """The events of one turn; iterate once. `close()` ends it early, `result()` runs it to the end."""

    def __init__(self, events: Generator[Event, None, None]) -> None:
        self._events = events

    def __iter__(self):
        return self._events

    def close(self) -> None:
        self._events.close()

    def result(self) -> Done:
        """The finished answer; raises the turn's McvError if it failed."""
        done = None
        for event in self._events:
            if isinstance(event, Failed):
                raise event.error
            if isinstance(event, Done):
                done = event
        assert done is not None, "a turn ends with Done or Failed"
        return done


class _InBackground:
    """Run a function in a daemon thread; `result()` returns or re-raises.

    A daemon thread, so an early error (daemon down) ends the process at once
    instead of waiting for a large image to finish decoding.
    """

    def __init__(self, function, *args) -> None:
        self._outcome: tuple[bool, object] | None = None
        self._thread = threading.Thread(target=self._run, args=(function, args), daemon=True)
        self._thread.start()

    def _run(self, function, args) -> None:
        try:
            self._outcome = (True, function(*args))
        except BaseException as err:  # re-raised in the caller's thread
            self._outcome = (False, err)

    def result(self):
        self._thread.join()
        ok, value = self._outcome
        if not ok:
            raise value
        return value
