"""A conversation saved to a file and read back: Markdown or JSON, images included.

Both formats hold the images' prepared bytes, so a loaded conversation
re-sends exactly what it sent before (the prompt caches keep hitting) and
does not need the original files.

Markdown is for people first: a heading per turn, each image a reference
link whose definition (a data URL) sits at the end of the file, out of the
way. Machine marks are HTML comments, which Markdown viewers hide:

    <!-- mcv-chat 1 model=minicpm-v -->
    <!-- mcv:user chars=18 -->
    ### You

    ![receipt.jpg][image-1]

    what is the total?

    <!-- mcv:assistant chars=17 -->
    ### minicpm-v
    ...
    <!-- mcv:image image-1 {"label": "receipt.jpg", ...} -->
    [image-1]: data:image/jpeg;base64,...

`chars=N` is the exact length of the text, so a text holding anything at
all (even lines like these marks) reads back unchanged; a file edited by
hand whose lengths no longer fit is read section by section instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from mcv.core.backends.base import Message
from mcv.core.images.types import PreparedImage
from mcv.errors import InputError, UsageError, first_line

if TYPE_CHECKING:
    from mcv.core.conversation import Conversation

FORMAT = "mcv-chat"
VERSION = 1
_HEAD = re.compile(r"<!-- mcv-chat (\d+)(?: model=(\S*))? -->")
_MARK = re.compile(r"^<!-- mcv:(system|user|assistant|waiting)((?: [a-z]+(?:=\d+)?)*) -->$", re.M)
_IMAGE_REF = re.compile(r"^!\[[^\]\n]*\]\[(image-\d+)\]$")
_IMAGE_DEF = re.compile(r"^<!-- mcv:image (image-\d+) (\{.*\}) -->\n\[\1\]: data:([\w/+.-]+);base64,([A-Za-z0-9+/=]*)", re.M)


@dataclass
class Transcript:
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    pending: list[PreparedImage] = field(default_factory=list)
    model: str | None = None


# --- images as plain data (shared with the history database) -------------------------


def image_reference(image: PreparedImage) -> dict[str, Any]:
    """What a conversation says about one use of an image, apart from its bytes."""
    return {
        "sha256": image.sha256,
        "label": image.label,
        "mime": image.mime,
        "width": image.width,
        "height": image.height,
        "source_width": image.source_width,
        "source_height": image.source_height,
        "notes": list(image.notes),
    }


_MIMES = {"image/jpeg": "JPEG", "image/png": "PNG"}  # what prepared images are (core/images/encode.py)
_MAX_SIDE = 1 << 16


def image_from(reference: Any, data: bytes) -> PreparedImage:
    """The PreparedImage a reference and its bytes describe; InputError (one line) if
    anything disagrees: the sha256, the kind of image, its size, the record's fields."""
    if not isinstance(reference, dict):
        raise InputError(f"an image record is not an object: {_shown(reference)}")
    label = reference.get("label")
    label = label if isinstance(label, str) and label else "image"
    sha = reference.get("sha256")
    if not isinstance(sha, str) or not sha:
        raise InputError(f"image {label!r}: its record has no sha256")
    if not data:
        raise InputError(f"image {label!r}: its data is missing")
    if hashlib.sha256(data).hexdigest() != sha.lower():
        raise InputError(f"image {label!r}: its bytes do not match its sha256")
    mime = reference.get("mime")
    if mime not in _MIMES:
        raise InputError(f"image {label!r}: {_shown(mime)} is not a prepared image's type (image/jpeg or image/png)")
    sizes = {}
    for key in ("width", "height", "source_width", "source_height"):
        value = reference.get(key, reference.get(key.removeprefix("source_")))
        if not _is_int(value) or not 0 < value <= _MAX_SIDE * (1 + 3 * key.startswith("source_")):
            raise InputError(f"image {label!r}: {key} is not a size in pixels: {_shown(value)}")
        sizes[key] = value
    notes = reference.get("notes") or []
    if not isinstance(notes, list) or not all(isinstance(note, str) for note in notes):
        raise InputError(f"image {label!r}: its notes are not a list of texts")
    _check_bytes(data, _MIMES[mime], (sizes["width"], sizes["height"]), label)
    return PreparedImage(data=data, mime=mime, label=label, notes=tuple(notes), **sizes)


def _check_bytes(data: bytes, kind: str, size: tuple[int, int], label: str) -> None:
    """The bytes are the image the record says: its kind by magic bytes, its size by the header."""
    import io

    from PIL import Image

    from mcv.core.images.sniff import sniff

    if sniff(data) != kind:
        raise InputError(f"image {label!r}: its bytes are not a {kind} image")
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as picture:  # reads the header only
            found = picture.size
    except Exception:  # noqa: BLE001 - any decoder complaint about a damaged header
        raise InputError(f"image {label!r}: its bytes are a damaged {kind} image") from None
    if found != size:
        raise InputError(f"image {label!r}: its bytes are {found[0]}x{found[1]}, its record says {size[0]}x{size[1]}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    """A value from a file, short enough for an error line."""
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, (bytes, bytearray)) else repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


# --- saving ----------------------------------------------------------------------------


def save(conversation: "Conversation", path, *, model: str | None) -> str:
    """Write `conversation` to `path` atomically; returns "json" or "markdown".

    An existing file is replaced only if it is an mcv chat already: anything
    else of the user's is left alone.
    """
    from mcv.core.atomic import write_atomically

    path = Path(path).expanduser()
    kind = "json" if path.suffix.lower() == ".json" else "markdown"
    if path.is_dir():
        raise UsageError(f"{path} is a folder: name a file to save the chat in")
    if path.exists() and not path.is_file():  # a FIFO or a device: never opened, never replaced
        raise UsageError(f"{path} is not a regular file: name a file to save the chat in")
    if path.exists() and not _is_transcript(path):
        raise UsageError(f"{path} exists and is not a saved mcv chat: not replacing it", hint="choose another file name")
    transcript = Transcript(conversation.system, list(conversation.messages), list(conversation.pending), model)
    text = to_json(transcript) if kind == "json" else to_markdown(transcript)
    try:
        write_atomically(path, text)
    except OSError as err:
        raise UsageError(f"cannot write {path}: {err.strerror or err}") from None
    return kind


def _is_transcript(path: Path) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(200).decode("utf-8", "replace")
    except OSError:
        return False
    return head.startswith("<!-- mcv-chat ") or f'"format": "{FORMAT}"' in head


def to_json(transcript: Transcript) -> str:
    images: dict[str, dict[str, str]] = {}

    def refs(items: Sequence[PreparedImage]) -> list[dict[str, Any]]:
        for image in items:
            images.setdefault(image.sha256, {"data": image.b64()})
        return [image_reference(image) for image in items]

    document = {
        "format": FORMAT,
        "version": VERSION,
        "model": transcript.model,
        "system": transcript.system,
        "messages": [
            {"role": m.role, "content": m.content, "images": refs(m.images), **({"interrupted": True} if m.interrupted else {})}
            for m in transcript.messages
        ],
        "waiting": refs(transcript.pending),
        "images": images,
    }
    return json.dumps(document, ensure_ascii=False, indent=1) + "\n"


def to_markdown(transcript: Transcript) -> str:
    model = transcript.model or "the model"
    numbers: dict[str, str] = {}  # sha256 -> image-N
    definitions: list[str] = []
    out = [f"<!-- mcv-chat {VERSION} model={model.replace(' ', '_')} -->\n", f"# Chat with {model}\n\n"]

    def image_lines(items: Sequence[PreparedImage]) -> str:
        lines = []
        for image in items:
            if image.sha256 not in numbers:
                numbers[image.sha256] = name = f"image-{len(numbers) + 1}"
                meta = json.dumps(image_reference(image), ensure_ascii=False)
                definitions.append(f"<!-- mcv:image {name} {meta} -->\n[{name}]: {image.data_url()}\n")
            alt = image.label.replace("]", ")").replace("[", "(").replace("\n", " ")
            lines.append(f"![{alt}][{numbers[image.sha256]}]\n")
        return "".join(lines) + ("\n" if lines else "")

    if transcript.system:
        out.append(f"<!-- mcv:system chars={len(transcript.system)} -->\n**System:**\n\n{transcript.system}\n\n")
    for message in transcript.messages:
        marks = f" chars={len(message.content)}" + (" interrupted" if message.interrupted else "")
        if message.role == "user":
            heading = "### You"
        else:
            heading = f"### {model}" + (" (interrupted)" if message.interrupted else "")
        out.append(f"<!-- mcv:{message.role}{marks} -->\n{heading}\n\n{image_lines(message.images)}{message.content}\n\n")
    if transcript.pending:
        out.append(f"<!-- mcv:waiting chars=0 -->\n### Waiting for the next question\n\n{image_lines(transcript.pending)}")
    if definitions:
        out.append("---\n\n" + "\n".join(definitions))
    return "".join(out)


# --- loading ---------------------------------------------------------------------------


def load(path) -> Transcript:
    """Read a chat saved by `save` (either format); InputError (one line) for anything else."""
    path = Path(path).expanduser()
    raw = _read_saved_file(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{path} is not a chat saved by mcv (not UTF-8 text)") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark, as some Windows editors add
    if text.lstrip().startswith("{"):
        return from_json(text, str(path))
    return from_markdown(text, str(path))


# Larger than any chat /save writes in practice (a hundred prepared images are ~100 MB
# of base64): a bigger file is something else, and reading it would only fill the memory.
MAX_FILE_BYTES = 512 * 1024 * 1024


def _read_saved_file(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES: a device (/dev/zero), a FIFO
    or a huge file is one clear line, never a read that does not end."""
    import os
    import stat

    from mcv.core.units import format_bytes

    try:
        # O_NONBLOCK: opening a FIFO with no writer returns at once (then refused below).
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path} is a folder: name a file saved with /save") from None
    except OSError as err:
        raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputError(f"{path} is a folder: name a file saved with /save")
        raise InputError(f"{path} is not a regular file: name a file saved with /save")
    if info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise InputError(f"{path} is too large for a saved chat ({format_bytes(info.st_size)}, at most {format_bytes(MAX_FILE_BYTES)})")
    with os.fdopen(fd, "rb") as file:
        try:
            raw = file.read(MAX_FILE_BYTES + 1)
        except OSError as err:
            raise InputError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) > MAX_FILE_BYTES:  # it grew while being read
        raise InputError(f"{path} is too large for a saved chat (over {format_bytes(MAX_FILE_BYTES)})")
    return raw


def from_json(text: str, name: str = "the file") -> Transcript:
    try:
        document = json.loads(text.removeprefix("\ufeff"))
    except (ValueError, RecursionError) as err:
        raise InputError(f"{name} is not valid JSON: {first_line(err)}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{name} is not a chat saved by mcv (no \"format\": \"{FORMAT}\")")
    _check_version(document.get("version", VERSION), name)
    blobs = document.get("images") or {}
    if not isinstance(blobs, dict):
        raise InputError(f'{name}: "images" is not an object of image data by sha256')

    def images(refs: Any, where: str) -> tuple[PreparedImage, ...]:
        if refs is None:
            return ()
        if not isinstance(refs, list):
            raise InputError(f'{name}: the images of {where} are not a list')
        out = []
        for ref in refs:
            if not isinstance(ref, dict):
                raise InputError(f"{name}: an image of {where} is not an object: {_shown(ref)}")
            blob = blobs.get(ref.get("sha256")) if isinstance(ref.get("sha256"), str) else None
            data = blob.get("data") if isinstance(blob, dict) else None
            if not isinstance(data, str):
                raise InputError(f"{name}: the data of an image of {where} is not included")
            out.append(_image_in(name, ref, _b64(data, name)))
        return tuple(out)

    listed = document.get("messages") or []
    if not isinstance(listed, list):
        raise InputError(f'{name}: "messages" is not a list')
    messages = []
    for number, entry in enumerate(listed, start=1):
        where = f"message {number}"
        if not isinstance(entry, dict):
            raise InputError(f"{name}: {where} is not an object: {_shown(entry)}")
        role, content = entry.get("role"), entry.get("content")
        if role not in ("user", "assistant"):
            raise InputError(f"{name}: {where} has no role user or assistant: {_shown(role)}")
        if not isinstance(content, str):
            raise InputError(f"{name}: the content of {where} is not text: {_shown(content)}")
        messages.append(Message(role, content, images(entry.get("images"), where), interrupted=entry.get("interrupted") is True))
    _check_turns(messages, name)
    return Transcript(
        _text_or_none(document, "system", name),
        messages,
        list(images(document.get("waiting"), "the waiting images")),
        _text_or_none(document, "model", name),
    )


def from_markdown(text: str, name: str = "the file") -> Transcript:
    text = text.removeprefix("\ufeff")
    head = _HEAD.match(text)
    if head is None:
        raise InputError(f"{name} is not a chat saved by mcv (it does not start with <!-- mcv-chat ... -->)")
    if text[head.end() : head.end() + 2] == "\r\n":
        text = text.replace("\r\n", "\n")  # line ends converted on the way (an editor, git); saved ones are LF
    _check_version(int(head.group(1)), name)
    blobs: dict[str, PreparedImage] = {}
    for match in _IMAGE_DEF.finditer(text):
        try:
            reference = json.loads(match.group(2))
        except (ValueError, RecursionError):
            raise InputError(f"{name}: the record of {match.group(1)} is not valid JSON") from None
        blobs[match.group(1)] = _image_in(name, reference, _b64(match.group(4), name))
    transcript = Transcript(model=head.group(2))
    position = head.end()
    sections = 0
    while (mark := _MARK.search(text, position)) is not None:
        sections += 1
        role, flags = mark.group(1), mark.group(2).split()
        _, _, body = text[mark.end() + 1 :].partition("\n")  # less the heading line
        start = len(text) - len(body)
        refs, content, used = _section(body, flags)
        position = start + used
        images = tuple(_image(blobs, ref, name) for ref in refs)
        if role == "system":
            transcript.system = content
        elif role == "waiting":
            transcript.pending.extend(images)
        else:
            transcript.messages.append(Message(role, content, images, interrupted="interrupted" in flags))
    if not sections and _has_content(text[head.end() :]):
        raise InputError(f"{name} starts like a chat saved by mcv, but no part of it reads as one (its <!-- mcv:... --> marks are gone)")
    _check_turns(transcript.messages, name)
    return transcript


def _has_content(rest: str) -> bool:
    """Anything beyond the title line a chat with nothing in it has."""
    lines = [line for line in rest.splitlines() if line.strip()]
    return bool(lines[1:] if lines and lines[0].startswith("# Chat with ") else lines)


def _image_in(name: str, reference: Any, data: bytes) -> PreparedImage:
    try:
        return image_from(reference, data)
    except InputError as err:
        raise InputError(f"{name}: {err.message}") from None


def _check_version(version: Any, name: str) -> None:
    if not _is_int(version) or version < 1:
        raise InputError(f"{name}: its format version is not a number: {_shown(version)}")
    if version > VERSION:
        raise InputError(f"{name} was saved by a newer mcv (format version {version})")


def _text_or_none(document: dict, key: str, name: str) -> str | None:
    value = document.get(key)
    if value is not None and not isinstance(value, str):
        raise InputError(f'{name}: "{key}" is not text: {_shown(value)}')
    return value


def _section(body: str, flags: list[str]) -> tuple[list[str], str, int]:
    """The image references at the top of a section, its text, and how much of `body` they use.

    With a `chars=N` that fits, the text is exactly N characters (whatever it
    holds); otherwise it runs to the next mark.
    """
    offset = 1 if body.startswith("\n") else 0
    refs: list[str] = []
    while True:
        end = body.find("\n", offset)
        match = _IMAGE_REF.match(body[offset:end]) if end >= 0 else None
        if match is None:
            break
        refs.append(match.group(1))
        offset = end + 1
    if refs and body.startswith("\n", offset):
        offset += 1
    length = next((int(flag[6:]) for flag in flags if flag.startswith("chars=")), None)
    if length is not None and _fits(body[offset:], length):
        return refs, body[offset : offset + length], offset + length
    following = _MARK.search(body, offset)
    stop = following.start() if following else len(body)
    text = body[offset:stop]
    cut = text.find("\n---\n\n<!-- mcv:image ")
    return refs, (text if cut < 0 else text[:cut]).strip("\n"), stop


def _fits(body: str, length: int) -> bool:
    """Whether a text of `length` characters ends where a saved section does."""
    rest = body[length:]
    return len(body) >= length and (
        rest.strip("\n") == "" or rest.startswith(("\n\n<!-- mcv:", "\n\n---\n\n<!-- mcv:image "))
    )


def _image(blobs: dict[str, PreparedImage], ref: str, name: str) -> PreparedImage:
    try:
        return blobs[ref]
    except KeyError:
        raise InputError(f"{name}: {ref} is referred to but not included") from None


def _b64(text: str, name: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise InputError(f"{name}: an image's data is not valid base64") from None


def _check_turns(messages: Sequence[Message], name: str) -> None:
    """A chat is questions and answers in turn, starting with a question (Conversation.record keeps them so)."""
    for number, message in enumerate(messages, start=1):
        wanted = "user" if number % 2 else "assistant"
        if message.role != wanted:
            who = "a question (user)" if wanted == "user" else "an answer (assistant)"
            raise InputError(f"{name}: message {number} should be {who}: a chat alternates questions and answers")
    if len(messages) % 2:
        raise InputError(f"{name}: the last question has no answer (message {len(messages)})")
