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
from mcv.errors import InputError, UsageError

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


def image_from(reference: dict[str, Any], data: bytes) -> PreparedImage:
    """The PreparedImage a reference and its bytes describe; InputError if they disagree."""
    if hashlib.sha256(data).hexdigest() != reference.get("sha256", hashlib.sha256(data).hexdigest()):
        raise InputError(f"image {reference.get('label')!r}: its bytes do not match its sha256")
    try:
        return PreparedImage(
            data=data,
            mime=str(reference["mime"]),
            width=int(reference["width"]),
            height=int(reference["height"]),
            source_width=int(reference.get("source_width") or reference["width"]),
            source_height=int(reference.get("source_height") or reference["height"]),
            label=str(reference.get("label") or "image"),
            notes=tuple(str(note) for note in reference.get("notes") or ()),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"an image record lacks {err}") from None


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
    """Read a chat saved by `save` (either format); InputError for anything else."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read {path}: {getattr(err, 'strerror', None) or err}") from None
    if text.lstrip().startswith("{"):
        return from_json(text, str(path))
    return from_markdown(text, str(path))


def from_json(text: str, name: str = "the file") -> Transcript:
    try:
        document = json.loads(text)
    except ValueError as err:
        raise InputError(f"{name} is not valid JSON: {err}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise InputError(f"{name} is not a chat saved by mcv (no \"format\": \"{FORMAT}\")")
    if int(document.get("version") or 0) > VERSION:
        raise InputError(f"{name} was saved by a newer mcv (format version {document.get('version')})")
    blobs = document.get("images") or {}

    def images(refs) -> tuple[PreparedImage, ...]:
        out = []
        for ref in refs or ():
            blob = blobs.get(ref.get("sha256")) or {}
            out.append(image_from(ref, _b64(blob.get("data", ""), name)))
        return tuple(out)

    try:
        messages = [
            Message(m["role"], str(m["content"]), images(m.get("images")), interrupted=bool(m.get("interrupted")))
            for m in document.get("messages") or ()
        ]
    except (KeyError, TypeError, AttributeError) as err:
        raise InputError(f"{name}: a message lacks {err}") from None
    _check_roles(messages, name)
    return Transcript(document.get("system"), messages, list(images(document.get("waiting"))), document.get("model"))


def from_markdown(text: str, name: str = "the file") -> Transcript:
    head = _HEAD.match(text)
    if head is None:
        raise InputError(f"{name} is not a chat saved by mcv (it does not start with <!-- mcv-chat ... -->)")
    if int(head.group(1)) > VERSION:
        raise InputError(f"{name} was saved by a newer mcv (format version {head.group(1)})")
    blobs: dict[str, PreparedImage] = {}
    for match in _IMAGE_DEF.finditer(text):
        try:
            reference = json.loads(match.group(2))
        except ValueError:
            raise InputError(f"{name}: the record of {match.group(1)} is not valid JSON") from None
        blobs[match.group(1)] = image_from(reference, _b64(match.group(4), name))
    transcript = Transcript(model=head.group(2))
    position = head.end()
    while (mark := _MARK.search(text, position)) is not None:
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
    _check_roles(transcript.messages, name)
    return transcript


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


def _check_roles(messages: Sequence[Message], name: str) -> None:
    for message in messages:
        if message.role not in ("user", "assistant"):
            raise InputError(f"{name}: unknown message role {message.role!r}")
