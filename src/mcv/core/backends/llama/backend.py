"""LlamaBackend: MiniCPM-V in process through llama-cpp-python's mtmd, with prefix reuse.

The model loads on the first request and stays loaded until `close()`.
Each request is rendered from the generation record (prompt.py),
tokenised into mtmd chunks, and compared with what the KV cache already
holds (kv_cache.py): only the new tail is evaluated, so a second question
about the same image does not encode the image again. Images whose chunks
are cached are tokenised as placeholders (no decode, no resize).
"""

from __future__ import annotations

import contextlib
import threading
import time
import weakref
from pathlib import Path
from typing import Iterator

from mcv.core.backends.base import Capabilities, ChatRequest, Chunk, Metrics
from mcv.core.backends.llama.native import ImagePart, NativeModel, Piece, Tokenized, decode_rgb
from mcv.core.backends.llama.output import AnswerStream
from mcv.core.backends.llama.prompt import render, thinking_capable
from mcv.core.backends.llama.sampling import HONOURED_OPTIONS, SamplingPlan, build_sampler, grammar_for, plan
from mcv.core.local_pairs import LocalPair
from mcv.core.backends.llama.kv_cache import CacheRecord, ImageWork, TextWork, piece_keys, work_after
from mcv.errors import BackendError, CapabilityError, InputError, StreamError


class LlamaBackend:
    name = "llama"

    def __init__(
        self,
        llm_path: str | Path,
        projector_path: str | Path,
        generation=None,
        *,
        n_ctx: int | None = None,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        verbose: bool = False,
        source: str = "path",
    ) -> None:
        self.llm_path = Path(llm_path)
        self.projector_path = Path(projector_path)
        for path in (self.llm_path, self.projector_path):
            if not path.is_file():
                raise InputError(f"{path}: no such GGUF file")
        if generation is None:
            from mcv.modelfile.identify import validate_pair

            pair = validate_pair(self.llm_path, self.projector_path)  # either order; InputError if not a pair
            self.llm_path, self.projector_path, generation = pair.llm, pair.projector, pair.generation
        self.generation = generation
        self.source = source  # where the pair was found (core/local_pairs.py), for notes and --json
        self.n_ctx = n_ctx or generation.num_ctx
        self.n_threads = n_threads
        self.n_gpu_layers = n_gpu_layers
        self.verbose = verbose
        self._native: NativeModel | None = None
        self._cache = CacheRecord()
        self._image_sizes: dict[str, tuple[int, int]] = {}  # sha256 -> decoded size
        self._lock = threading.Lock()
        self._holder: tuple[int, weakref.ref] | None = None  # (thread, stream) holding the lock
        self.reuse = True  # False: evaluate every prompt from scratch (benchmarks, tests)

    # --- protocol ----------------------------------------------------------------

    @property
    def where(self) -> str:
        return "in process (llama.cpp)"

    @property
    def pair(self) -> LocalPair:
        return LocalPair(self.llm_path, self.projector_path, self.source, self.generation.name)

    def capabilities(self, model: str) -> Capabilities:
        return Capabilities(
            vision=True,
            thinking=thinking_capable(self.generation),
            options=HONOURED_OPTIONS,
            num_ctx=self.n_ctx,
            tokens_per_slice=self.generation.tokens_per_slice,
        )

    def chat(self, request: ChatRequest) -> Iterator[Chunk]:
        """Validate now (errors surface at the call), generate lazily."""
        parameters = request.parameters
        think = self._resolve_think(parameters.think)
        parts = render(request.messages, self.generation, think=think)
        sampling = plan(self.generation, parameters.options)
        grammar = grammar_for(parameters.format)
        n_ctx = parameters.options.get("num_ctx")
        if n_ctx is not None and (isinstance(n_ctx, bool) or not isinstance(n_ctx, int) or n_ctx <= 0):
            raise InputError(f"option num_ctx must be a positive whole number, got {n_ctx!r}")
        box: list = []
        stream = self._generate(parts, sampling, grammar, think, n_ctx, box, stream=parameters.stream)
        box.append(weakref.ref(stream))
        return stream

    def count_tokens(self, text: str) -> int | None:
        """Tokens of `text` by the model's tokenizer, when the model is loaded and idle (None otherwise)."""
        native = self._native
        if native is None or self._holder is not None:
            return None
        return len(native.tokenize_text(text))

    def close(self) -> None:
        with self._exclusive():
            self._unload()

    def reset_cache(self) -> None:
        """Forget the cached prefix: the next request evaluates its whole prompt."""
        with self._exclusive():
            self._cache.clear()

    @contextlib.contextmanager
    def _exclusive(self, stream_box: list | None = None):
        """The model for one caller at a time (one KV cache, one answer).

        Another thread waits. The same thread can only find the lock taken by a
        stream it left unfinished (a suspended generator it cannot resume while
        it is here): that stream is closed, i.e. cancelled, instead of deadlocking.
        """
        holder = self._holder
        if holder is not None and holder[0] == threading.get_ident():
            stream = holder[1]()
            if stream is not None:
                stream.close()
        with self._lock:
            if stream_box:
                self._holder = (threading.get_ident(), stream_box[0])
            try:
                yield
            finally:
                self._holder = None

    def __enter__(self) -> "LlamaBackend":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- loading -----------------------------------------------------------------

    def load(self, n_ctx: int | None = None) -> int:
        """Load the model if needed; returns the ns spent.

        Like Ollama, a request's num_ctx reloads the model at that size, and a
        request without it goes back to the backend's own `n_ctx`.
        """
        wanted = n_ctx or self.n_ctx
        if self._native is not None and self._native.n_ctx == wanted:
            return 0
        started = time.perf_counter_ns()
        self._unload()
        self._native = NativeModel(
            self.llm_path,
            self.projector_path,
            n_ctx=wanted,
            n_threads=self.n_threads,
            n_gpu_layers=self.n_gpu_layers,
            verbose=self.verbose,
        )
        return time.perf_counter_ns() - started

    def _unload(self) -> None:
        if self._native is not None:
            self._native.close()
            self._native = None
        self._cache.clear()

    @property
    def native(self) -> NativeModel:
        """The loaded model (loads it first if needed)."""
        if self._native is None:
            with self._exclusive():
                self.load()
        assert self._native is not None
        return self._native

    def prompt_pieces(self, request: ChatRequest) -> list[Piece]:
        """The request's prompt as llama.cpp evaluates it (text tokens, image chunks); evaluates nothing."""
        parts = render(request.messages, self.generation, think=self._resolve_think(request.parameters.think))
        native = self.native
        with self._exclusive():
            images = [part.image for part in parts if isinstance(part, ImagePart)]
            rgb = {image.sha256: self._decode_image(image) for image in images}
            with native.tokenize(parts, rgb) as tokenized:
                return list(tokenized.pieces)

    # --- one request ---------------------------------------------------------------

    def _resolve_think(self, think: bool | None) -> bool:
        if not think:
            return False  # thinking is off unless asked for (records: "off by default")
        if not thinking_capable(self.generation):
            raise CapabilityError(
                f"MiniCPM-V {self.generation.id} does not support thinking",
                hint="leave --think off, or use MiniCPM-V 4.5",
            )
        return True

    def _generate(
        self, parts, sampling: SamplingPlan, grammar, think: bool, n_ctx, box: list, *, stream: bool
    ) -> Iterator[Chunk]:
        with self._exclusive(box):
            started = time.perf_counter_ns()
            load_ns = self.load(n_ctx)
            native = self._native
            assert native is not None
            sampler = build_sampler(native.llama, sampling, grammar)
            try:
                with self._tokenize(native, parts) as tokenized:
                    evaluated = self._evaluate_prompt(native, tokenized)
                prompt_done = time.perf_counter_ns()
                answer = _Answer(AnswerStream(sampling.stop, thinking=think))
                for chunk in self._sample_answer(native, sampler, sampling, answer):
                    if stream:
                        yield chunk
            finally:
                sampler.close()
            finished = time.perf_counter_ns()
            metrics = Metrics(
                prompt_eval_count=evaluated,
                prompt_eval_duration_ns=prompt_done - started - load_ns,
                eval_count=answer.tokens,
                eval_duration_ns=finished - prompt_done,
                total_duration_ns=finished - started,
                load_duration_ns=load_ns,
            )
            text, thinking = answer.finish(whole=not stream)
            yield Chunk(text=text, thinking=thinking, done=True, done_reason=answer.reason, metrics=metrics)

    def _sample_answer(self, native: NativeModel, sampler, sampling: SamplingPlan, answer: "_Answer") -> Iterator[Chunk]:
        """Sample, stream and feed back tokens until a stop, the limit or a full context."""
        stop_tokens = self._stop_tokens(native, sampling.stop)
        while True:
            token = native.sample(sampler)
            if native.is_eog(token) or token in stop_tokens:
                return
            chunk = answer.add(native.piece(token))
            if chunk is not None:
                yield chunk
            if answer.stopped:
                return
            if sampling.num_predict is not None and answer.tokens >= sampling.num_predict:
                answer.reason = "length"
                return
            if self._cache.position >= native.n_ctx:
                answer.reason = "length"
                return
            try:
                native.eval_text([token], self._cache.position)
            except BackendError as err:
                raise StreamError(err.message, partial=answer.text_so_far(), hint=err.hint) from None
            self._cache.add_tokens([token])

    def _tokenize(self, native: NativeModel, parts) -> Tokenized:
        """Tokenise, decoding only the images whose chunks must be evaluated."""
        cached_ids = self._cache.image_ids() if self.reuse else set()
        rgb: dict[str, tuple[int, int, bytes | None]] = {}
        images = [part.image for part in parts if isinstance(part, ImagePart)]
        for image in images:
            sha = image.sha256
            if sha in rgb:
                continue
            if sha in cached_ids and sha in self._image_sizes:
                rgb[sha] = (*self._image_sizes[sha], None)  # placeholder: chunks are cached
            else:
                rgb[sha] = self._decode_image(image)
        tokenized = native.tokenize(parts, rgb)
        placeholders = {sha for sha, (_, _, data) in rgb.items() if data is None}
        if placeholders:
            reused = self._cache.reusable(piece_keys(tokenized.pieces))
            needed = {w.piece.image_id for w in work_after(tokenized.pieces, reused) if isinstance(w, ImageWork)}
            missing = needed & placeholders
            if missing:
                # The cache diverges before a cached image: it must be encoded again.
                tokenized.close()
                by_sha = {image.sha256: image for image in images}
                for sha in missing:
                    rgb[sha] = self._decode_image(by_sha[sha])
                tokenized = native.tokenize(parts, rgb)
        return tokenized

    def _decode_image(self, image) -> tuple[int, int, bytes]:
        width, height, data = decode_rgb(image)
        self._image_sizes[image.sha256] = (width, height)
        return width, height, data

    def _evaluate_prompt(self, native: NativeModel, tokenized: Tokenized) -> int:
        """Bring the KV cache to the new prompt; returns how many positions were evaluated."""
        needed = tokenized.n_positions
        if needed >= native.n_ctx:
            raise BackendError(
                f"the prompt needs {needed} tokens but the context holds {native.n_ctx}",
                hint="raise the context (--option num_ctx=N, or `mcv config set llama.n_ctx N`) or send fewer/smaller images",
            )
        keys = piece_keys(tokenized.pieces)
        reused = self._cache.reusable(keys) if self.reuse else 0
        if not native.forget_from(self._cache.position_after(reused)):
            reused = 0  # this model's memory cannot be trimmed: start over
        self._cache.truncate(reused)
        start = self._cache.position
        for work in work_after(tokenized.pieces, reused):
            if isinstance(work, TextWork):
                native.eval_text(work.tokens, self._cache.position)
                self._cache.add_tokens(work.tokens)
            else:
                end = native.eval_image(tokenized, work.piece.chunk_index, self._cache.position)
                self._cache.add_image(work.piece, end)
        return self._cache.position - start

    def _stop_tokens(self, native: NativeModel, stops) -> frozenset[int]:
        """Stops that are single control tokens (e.g. <|start_header_id|>) are matched
        by id: they render as no text, so a string match would never see them."""
        ids = (native.special_token(stop) for stop in stops)
        return frozenset(i for i in ids if i is not None)


class _Answer:
    """The answer being generated: token count, text so far, why it ended."""

    def __init__(self, stream: AnswerStream) -> None:
        self._stream = stream
        self._text: list[str] = []
        self._thinking: list[str] = []
        self.tokens = 0
        self.reason = "stop"

    @property
    def stopped(self) -> bool:
        return self._stream.stopped

    def add(self, data: bytes) -> Chunk | None:
        self.tokens += 1
        text, thinking = self._stream.feed(data)
        if not (text or thinking):
            return None
        self._text.append(text)
        self._thinking.append(thinking)
        return Chunk(text=text, thinking=thinking)

    def text_so_far(self) -> str:
        return "".join(self._text)

    def finish(self, *, whole: bool) -> tuple[str, str]:
        """The text still held back; with `whole`, the entire answer (non-streaming)."""
        text, thinking = self._stream.finish()
        self._text.append(text)
        self._thinking.append(thinking)
        if whole:
            return "".join(self._text), "".join(self._thinking)
        return text, thinking
