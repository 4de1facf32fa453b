"""What `mcv ask` does once its options are parsed: resolve, call the core, render."""

from __future__ import annotations

from dataclasses import dataclass, field

from mcv.errors import EXIT_INTERRUPTED, EXIT_OK, StreamError, UsageError


@dataclass
class AskArgs:
    arguments: list[str]
    model: str | None = None
    host: str | None = None
    backend: str | None = None
    system: str | None = None
    temperature: float | None = None
    options: list[str] = field(default_factory=list)
    keep_alive: str | None = None
    schema: str | None = None
    think: bool | None = None
    clipboard: bool = False
    pages: str | None = None
    max_pixels: int | None = None
    stream: bool = True
    as_json: bool = False
    plain: bool = False
    verbose: bool = False


def build_question(args: AskArgs, config):
    from mcv.core.ask import Question, split_arguments
    from mcv.core.conversation import load_schema, merge_options, parse_keep_alive

    sources, prompt = split_arguments(args.arguments)
    if args.clipboard:
        from mcv.core.images.sources import clipboard_source

        sources.append(clipboard_source())
    if not sources:
        raise UsageError(
            "no image given: name an image file, a URL, '-' for standard input, or use --clipboard",
            hint="see 'mcv ask --help'",
        )
    options = merge_options(args.options)
    temperature = config.get("temperature", args.temperature)
    if temperature is not None:
        options.setdefault("temperature", temperature)
    return Question(
        sources=sources,
        prompt=prompt,
        model=config.get("model", args.model),
        system=config.get("system", args.system),
        options=options,
        format=load_schema(args.schema) if args.schema else None,
        keep_alive=parse_keep_alive(config.get("keep_alive", args.keep_alive)),
        think=args.think,
        stream=args.stream,
    )


def image_settings(args: AskArgs, config):
    from mcv.core.images.types import PrepareSettings

    max_pixels = config.get("images.max_pixels", args.max_pixels)
    if max_pixels is not None and max_pixels <= 0:
        raise UsageError("--max-pixels must be a positive number")
    return PrepareSettings(
        max_pixels=max_pixels,
        jpeg_quality=config.get("images.jpeg_quality"),
        pages=args.pages,
    )


class InBackground:
    """Run a function in a daemon thread; `result()` returns or re-raises.

    A daemon thread, so an early error (daemon down) exits at once instead of
    waiting for a large image to finish decoding.
    """

    def __init__(self, function, *args) -> None:
        import threading

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


def run_ask(env, args: AskArgs) -> int:
    from mcv.core.ask import check_vision, effective_think, prepare_images
    from mcv.core.backends.select import open_backend
    from mcv.core.config import load_config

    config = load_config(env.environ)
    question = build_question(args, config)
    settings = image_settings(args, config)
    # Decoding and shrinking images is CPU work that Pillow does without the
    # GIL: overlap it with the round trips that find the backend and model.
    preparing = InBackground(prepare_images, question.sources, settings, env.stdin)
    backend = open_backend(
        config.get("backend", args.backend),
        model=question.model,
        host=args.host,
        environ=env.environ,
        config=config.as_mapping(),
    )
    try:
        capabilities = check_vision(backend, question.model, len(question.sources))
        question.think = effective_think(capabilities, question.think)
        images = preparing.result()
        for image in images:
            for note in image.notes:  # e.g. "animated GIF: first of 12 frames used"
                env.note(f"{image.label}: {note}")
            if args.verbose:
                env.note(f"{image.label}: {_sending(image)}")
        from mcv.cli.render.stream import pick_renderer

        renderer = pick_renderer(
            env,
            as_json=args.as_json,
            markdown=not args.plain and config.get("render.markdown"),
            model=question.model,
            backend=backend.name,
            images=[_image_summary(image) for image in images],
        )
        show_thinking = bool(args.think) and not args.as_json
        return _stream(env, backend, question, images, renderer, verbose=args.verbose, show_thinking=show_thinking)
    finally:
        backend.close()


def _stream(env, backend, question, images, renderer, *, verbose: bool, show_thinking: bool) -> int:
    from mcv.cli.render.stream import format_metrics
    from mcv.core.ask import stream_answer

    metrics = None
    chunks = stream_answer(backend, question, images)
    try:
        for chunk in chunks:
            if chunk.thinking and show_thinking:
                # The reasoning goes to stderr so stdout stays the answer alone.
                env.stderr.write(chunk.thinking)
                env.stderr.flush()
            renderer.feed(chunk)
            if chunk.done:
                metrics = chunk.metrics
    except StreamError as err:
        # The partial answer is already on stdout; finish it, then say what broke.
        renderer.finish(metrics, error=err.message)
        raise
    except KeyboardInterrupt:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # closes the HTTP response, so the server stops generating
        renderer.finish(metrics, error="interrupted")
        env.stderr.write("mcv: interrupted\n")
        return EXIT_INTERRUPTED
    renderer.finish(metrics)
    if verbose and metrics is not None:
        env.note(format_metrics(metrics))
    return EXIT_OK


def _sending(image) -> str:
    resized = (image.width, image.height) != (image.source_width, image.source_height)
    origin = f" (from {image.source_width}x{image.source_height})" if resized else ""
    return f"sending {image.width}x{image.height}{origin} {image.mime}, {len(image.data):,} bytes"


def _image_summary(image) -> dict:
    return {
        "label": image.label,
        "width": image.width,
        "height": image.height,
        "source_width": image.source_width,
        "source_height": image.source_height,
        "mime": image.mime,
        "bytes": len(image.data),
        "notes": list(image.notes),
    }
