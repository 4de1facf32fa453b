"""The thin layer over llama-cpp-python: one loaded LLM + projector, nothing else.

Everything that touches ctypes lives here: loading, silencing llama.cpp's and
mtmd's logs, tokenising prompt parts into mtmd chunks, evaluating text and
image chunks at a KV position, trimming the KV cache, sampling one token.
Which chunks to evaluate (prefix reuse) is decided in kv_cache.py.

llama_cpp is imported only when a model is loaded (it is heavy, and the
package is optional: `pip install 'mcv[local]'`).
"""

from __future__ import annotations

import ctypes
import io
import weakref
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

from mcv.errors import BackendError, InputError
from mcv.core.images.types import PreparedImage

INSTALL_HINT = "install it with: pip install 'mcv[local]' (or run Ollama instead: ollama serve)"


@dataclass(frozen=True)
class TextPart:
    """Prompt text. `special`: parse control tokens (template text) or not (user text)."""

    text: str
    special: bool = True


@dataclass(frozen=True)
class ImagePart:
    image: PreparedImage


PromptPart = Union[TextPart, ImagePart]


@dataclass(frozen=True)
class TextPiece:
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class ImagePiece:
    """One image chunk (an overview or a slice); all chunks of an image share its id."""

    image_id: str
    n_pos: int
    n_tokens: int
    chunk_index: int


Piece = Union[TextPiece, ImagePiece]


def import_llama_cpp():
    """(llama_cpp, mtmd_cpp) or a BackendError saying how to get them."""
    try:
        import llama_cpp
        import llama_cpp.mtmd_cpp as mtmd_cpp
    except ImportError as err:
        raise BackendError(f"the in-process backend needs llama-cpp-python ({err})", hint=INSTALL_HINT) from None
    except OSError as err:  # the shared library is there but cannot load
        raise BackendError(f"llama-cpp-python is installed but its library cannot load: {err}") from None
    _route_logs(llama_cpp, mtmd_cpp)
    return llama_cpp, mtmd_cpp


# --- logs --------------------------------------------------------------------
# llama.cpp, ggml and mtmd print to stderr by default. Their messages go to one
# callback instead: dropped (errors kept for our own messages) unless verbose.

_GGML_LOG_ERROR = 4
_GGML_LOG_CONT = 5
_log_state: dict[str, Any] = {"verbose": 0, "callback": None, "last_level": 0}
_recent_errors: deque[str] = deque(maxlen=8)


def _on_log(level: int, text: bytes | None, _user_data) -> None:
    message = (text or b"").decode("utf-8", "replace")
    if level == _GGML_LOG_CONT:
        level = _log_state["last_level"]
    _log_state["last_level"] = level
    if level >= _GGML_LOG_ERROR and message.strip():
        _recent_errors.append(message.strip())
    if _log_state["verbose"] > 0:
        import sys

        try:
            sys.stderr.write(message)
        except (ValueError, OSError):  # stderr already closed at interpreter exit
            pass


def _route_logs(llama_cpp, mtmd_cpp) -> None:
    if _log_state["callback"] is not None:
        return
    callback = llama_cpp.llama_log_callback(_on_log)
    _log_state["callback"] = callback  # ctypes callbacks must outlive their use
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_log_set(callback, ctypes.c_void_p(0))
    mtmd_cpp.mtmd_helper_log_set(callback, ctypes.c_void_p(0))


def last_native_error() -> str | None:
    return _recent_errors[-1] if _recent_errors else None


def _with_native_error(message: str) -> str:
    detail = last_native_error()
    return f"{message}: {detail}" if detail else message


# --- the loaded model ----------------------------------------------------------


def _release(mtmd_cpp, handles: dict, llama) -> None:
    """Free the projector before the LLM it points into; safe to call twice."""
    ctx = handles.pop("mtmd", None)
    if ctx:
        mtmd_cpp.mtmd_free(ctx)
    llama.close()


class NativeModel:
    """An LLM GGUF and its projector loaded into llama.cpp, ready to evaluate."""

    def __init__(
        self,
        llm_path: Path,
        mmproj_path: Path,
        *,
        n_ctx: int,
        n_threads: int | None = None,
        n_gpu_layers: int = 0,
        verbose: bool = False,
    ) -> None:
        llama_cpp, mtmd_cpp = import_llama_cpp()
        self._lc = llama_cpp
        self._mtmd = mtmd_cpp
        self._verbose = verbose
        _recent_errors.clear()
        if verbose:
            _log_state["verbose"] += 1  # back to quiet when the last verbose model closes
        try:
            self._load(llm_path, mmproj_path, n_ctx=n_ctx, n_threads=n_threads, n_gpu_layers=n_gpu_layers)
        except BaseException:
            if verbose:
                _log_state["verbose"] -= 1
            raise
        self._vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self._pieces: dict[int, bytes] = {}

    def _load(self, llm_path: Path, mmproj_path: Path, *, n_ctx: int, n_threads: int | None, n_gpu_layers: int) -> None:
        llama_cpp, mtmd_cpp = self._lc, self._mtmd
        try:
            self.llama = llama_cpp.Llama(
                str(llm_path),
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_gpu_layers=n_gpu_layers,
                verbose=self._verbose,  # False also keeps it from printing model metadata
            )
        except (ValueError, RuntimeError) as err:
            raise BackendError(_with_native_error(f"llama.cpp cannot load {llm_path} ({err})")) from None
        params = mtmd_cpp.mtmd_context_params_default()
        params.use_gpu = n_gpu_layers != 0
        params.print_timings = False
        params.n_threads = self.llama.n_threads_batch
        ctx = mtmd_cpp.mtmd_init_from_file(str(mmproj_path).encode(), self.llama.model, params)
        if not ctx:
            self.llama.close()
            raise BackendError(_with_native_error(f"llama.cpp cannot load the projector {mmproj_path}"))
        self._handles = {"mtmd": ctx}
        self._finalizer = weakref.finalize(self, _release, mtmd_cpp, self._handles, self.llama)
        if not mtmd_cpp.mtmd_support_vision(ctx):
            self._finalizer()
            raise BackendError(f"{mmproj_path} is not a vision projector")

    # --- facts ---------------------------------------------------------------

    @property
    def n_ctx(self) -> int:
        return self.llama.n_ctx()

    @property
    def adds_bos(self) -> bool:
        return bool(self._lc.llama_vocab_get_add_bos(self._vocab))

    @property
    def bos_id(self) -> int:
        return int(self._lc.llama_vocab_bos(self._vocab))

    def is_eog(self, token: int) -> bool:
        return bool(self._lc.llama_vocab_is_eog(self._vocab, token))

    def special_token(self, text: str) -> int | None:
        """The id of `text` when it is one control/user-defined token, else None."""
        tokens = self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if len(tokens) != 1:
            return None
        attr = self._lc.llama_vocab_get_attr(self._vocab, tokens[0])
        special = self._lc.LLAMA_TOKEN_ATTR_CONTROL | self._lc.LLAMA_TOKEN_ATTR_USER_DEFINED
        return tokens[0] if attr & special else None

    def tokenize_text(self, text: str, *, special: bool = True) -> list[int]:
        return self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=special)

    def piece(self, token: int) -> bytes:
        """The bytes a generated token stands for (control tokens render as nothing)."""
        cached = self._pieces.get(token)
        if cached is None:
            size = 64
            while True:
                buffer = ctypes.create_string_buffer(size)
                n = self._lc.llama_token_to_piece(self._vocab, token, buffer, size, 0, False)
                if n >= 0:
                    break
                size = -n
            cached = self._pieces[token] = buffer.raw[:n]
        return cached

    # --- tokenising -----------------------------------------------------------

    def tokenize(self, parts: Sequence[PromptPart], rgb: dict[str, tuple[int, int, bytes | None]]) -> "Tokenized":
        """Tokenise prompt parts into mtmd chunks, BOS added as the vocab wants.

        `rgb` maps each image's sha256 to (width, height, RGB bytes); bytes None
        makes a placeholder bitmap: same chunks and counts, no pixel work, but
        not encodable (used for images whose chunks are already in the KV cache).
        """
        mtmd = self._mtmd
        keep: list[Any] = []  # ctypes objects that must live until mtmd_tokenize returns
        bitmaps: list[int] = []
        part_structs = []
        try:
            for part in parts:
                struct = mtmd.mtmd_input_part()
                if isinstance(part, TextPart):
                    encoded = part.text.encode("utf-8")
                    text = mtmd.mtmd_input_text()
                    text.text = encoded
                    text.text_len = len(encoded)
                    text.add_special = False
                    text.parse_special = part.special
                    keep.extend((encoded, text))
                    struct.text = ctypes.pointer(text)
                else:
                    image_id = part.image.sha256
                    width, height, data = rgb[image_id]
                    buffer = None if data is None else (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
                    bitmap = mtmd.mtmd_bitmap_init(width, height, buffer)
                    if not bitmap:
                        raise BackendError(f"{part.image.label}: llama.cpp could not take the image")
                    bitmaps.append(bitmap)
                    mtmd.mtmd_bitmap_set_id(bitmap, image_id.encode("ascii"))
                    struct.bitmap = bitmap
                part_structs.append(struct)
            pointers = (ctypes.POINTER(mtmd.mtmd_input_part) * len(part_structs))(
                *(ctypes.pointer(s) for s in part_structs)
            )
            chunks = mtmd.mtmd_input_chunks_init()
            code = mtmd.mtmd_tokenize_from_parts(self._handles["mtmd"], chunks, pointers, len(part_structs), True)
            if code != 0:
                mtmd.mtmd_input_chunks_free(chunks)
                raise BackendError(_with_native_error(f"llama.cpp could not tokenise the prompt (code {code})"))
        finally:
            for bitmap in bitmaps:
                mtmd.mtmd_bitmap_free(bitmap)
        return Tokenized(mtmd, chunks)

    # --- evaluating -----------------------------------------------------------

    def forget_from(self, position: int) -> bool:
        """Drop the KV cache from `position` on; False when the model cannot
        trim (recurrent/hybrid memory): then everything was dropped."""
        if self.llama._ctx.kv_cache_seq_rm(0, position, -1):
            return True
        self.llama._ctx.kv_cache_clear()
        return False

    def eval_text(self, tokens: Sequence[int], position: int) -> int:
        """Decode `tokens` at `position`; logits of the last one are kept. Returns the next position."""
        self.llama.n_tokens = position
        try:
            self.llama.eval(tokens)
        except RuntimeError as err:
            raise BackendError(_with_native_error(f"llama.cpp failed to evaluate the prompt ({err})")) from None
        return position + len(tokens)

    def eval_image(self, tokenized: "Tokenized", chunk_index: int, position: int) -> int:
        """Encode one image chunk and decode its embeddings at `position`."""
        mtmd = self._mtmd
        chunk = mtmd.mtmd_input_chunks_get(tokenized.handle, chunk_index)
        new_position = self._lc.llama_pos(position)
        code = mtmd.mtmd_helper_eval_chunk_single(
            self._handles["mtmd"],
            self.llama.ctx,
            chunk,
            position,
            0,
            self.llama.n_batch,
            False,
            ctypes.byref(new_position),
        )
        if code != 0:
            raise BackendError(_with_native_error(f"llama.cpp failed to encode an image (code {code})"))
        self.llama.n_tokens = new_position.value
        return new_position.value

    def last_logits(self) -> list[float]:
        """Logits of the last decoded position (tests compare cached and fresh evaluations)."""
        n_vocab = self.llama.n_vocab()
        pointer = self.llama._ctx.get_logits_ith(-1)
        return list(pointer[:n_vocab])

    def sample(self, sampler) -> int:
        return sampler.sample(self.llama._ctx, -1)

    def close(self) -> None:
        if self._finalizer.alive:
            self._finalizer()
            if self._verbose:
                _log_state["verbose"] -= 1


class Tokenized:
    """mtmd chunks of one prompt, read into pieces; frees the chunks on close."""

    def __init__(self, mtmd_cpp, handle) -> None:
        self._mtmd = mtmd_cpp
        self.handle = handle
        self.pieces = self._read_pieces()

    def _read_pieces(self) -> list[Piece]:
        mtmd = self._mtmd
        pieces: list[Piece] = []
        for index in range(mtmd.mtmd_input_chunks_size(self.handle)):
            chunk = mtmd.mtmd_input_chunks_get(self.handle, index)
            if mtmd.mtmd_input_chunk_get_type(chunk) == mtmd.MTMD_INPUT_CHUNK_TYPE_TEXT:
                count = ctypes.c_size_t()
                pointer = mtmd.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(count))
                pieces.append(TextPiece(tuple(pointer[: count.value]) if count.value else ()))
            else:
                raw_id = mtmd.mtmd_input_chunk_get_id(chunk) or b""
                pieces.append(
                    ImagePiece(
                        image_id=raw_id.decode("ascii", "replace"),
                        n_pos=mtmd.mtmd_input_chunk_get_n_pos(chunk),
                        n_tokens=mtmd.mtmd_input_chunk_get_n_tokens(chunk),
                        chunk_index=index,
                    )
                )
        return pieces

    @property
    def n_positions(self) -> int:
        return sum(len(p.tokens) if isinstance(p, TextPiece) else p.n_pos for p in self.pieces)

    def close(self) -> None:
        if self.handle:
            self._mtmd.mtmd_input_chunks_free(self.handle)
            self.handle = None

    def __enter__(self) -> "Tokenized":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def decode_rgb(image: PreparedImage) -> tuple[int, int, bytes]:
    """The image as packed RGB bytes (what mtmd bitmaps hold)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(image.data)) as opened:
            rgb = opened.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise InputError(f"{image.label}: cannot decode the prepared image ({err})") from None
    return rgb.width, rgb.height, rgb.tobytes()
