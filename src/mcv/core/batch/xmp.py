"""XMP sidecars: an answer written into the field photo tools read, merged
into a sidecar that may already be there.

Fields (by the preset's `xmp`, core/presets.py):
    description -> dc:description      (describe)
    title       -> dc:title            (caption)
    subject     -> dc:subject, a bag   (tags: keywords are added, the ones there stay)
    alt         -> Iptc4xmpCore:AltTextAccessibility   (alt; IPTC's own field for alt text)
The language alternatives get the `x-default` entry; other languages stay.

Naming: `photo.xmp` (digiKam, Lightroom; `stem`) or `photo.jpg.xmp`
(darktable; `full`), aves #994.

An existing sidecar is parsed and only the one property is changed: every
other property, namespace and Description stays (the file is re-serialised,
so whitespace and prefix placement may change, not content). A sidecar that
is not XMP is left alone and reported. Writes are atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence
from xml.etree import ElementTree as ET

from mcv.errors import InputError

X = "adobe:ns:meta/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
IPTC_CORE = "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
PREFIXES = {"x": X, "rdf": RDF, "dc": DC, "Iptc4xmpCore": IPTC_CORE}

# field -> (namespace, property, container)
FIELDS = {
    "description": (DC, "description", "Alt"),
    "title": (DC, "title", "Alt"),
    "subject": (DC, "subject", "Bag"),
    "alt": (IPTC_CORE, "AltTextAccessibility", "Alt"),
}
NAMING = ("stem", "full")  # photo.xmp | photo.jpg.xmp
MAX_SIDECAR_BYTES = 16 << 20
_PACKET_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
_PACKET_END = '\n<?xpacket end="w"?>\n'


def sidecar_path(image: str | Path, naming: str = "stem") -> Path:
    """Where the XMP sidecar of `image` lives: photo.xmp (stem) or photo.jpg.xmp (full)."""
    image = Path(image)
    return image.with_suffix(".xmp") if naming == "stem" else image.with_name(image.name + ".xmp")


def write_sidecar(path: Path, field: str, value: str | Sequence[str], *, tool: str = "mcv") -> None:
    """Set `field` in the sidecar at `path` (made if missing), atomically, keeping its permission
    bits (a symbolic link is refused: core/atomic.py). InputError if it is not XMP."""
    from mcv.core.atomic import write_atomically

    write_atomically(path, merge(read_sidecar(path), field, value, tool=tool), keep=True)


def read_sidecar(path: Path) -> bytes | None:
    """The bytes of the sidecar at `path`, None when there is none; InputError when it is too large
    or no regular file (a FIFO or a link to /dev/zero would never end: links are not followed)."""
    import os
    import stat

    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{path}: not a regular file, not touched")
    size = info.st_size
    if size > MAX_SIDECAR_BYTES:
        raise InputError(f"{path}: over {MAX_SIDECAR_BYTES >> 20} MB, not touched")
    return Path(path).read_bytes()


def check_sidecar(data: bytes) -> None:
    """InputError unless `data` is XMP a field can be merged into."""
    _rdf(_parse(data))


def has_field(data: bytes, field: str) -> bool:
    return read_field(data, field) is not None


def merge(existing: bytes | None, field: str, value: str | Sequence[str], *, tool: str = "mcv") -> bytes:
    """The sidecar's bytes with `field` set to `value` (a text, or keywords for `subject`)."""
    namespace, name, container = FIELDS[field]
    _register(PREFIXES)
    if existing is None:
        root = ET.Element(f"{{{X}}}xmpmeta", {f"{{{X}}}xmptk": tool})
        rdf = ET.SubElement(root, f"{{{RDF}}}RDF")
    else:
        root = _parse(existing)
        rdf = _rdf(root)
    tag = f"{{{namespace}}}{name}"
    descriptions = rdf.findall(f"{{{RDF}}}Description")
    if not descriptions:
        descriptions = [ET.SubElement(rdf, f"{{{RDF}}}Description", {f"{{{RDF}}}about": ""})]
    found = []
    for description in descriptions:
        if tag in description.attrib:  # the short form (a simple value as an attribute)
            del description.attrib[tag]
        found += [(description, element) for element in description.findall(tag)]
    if found:
        owner, element = found[0]
        for other_owner, other in found[1:]:  # one property, one place
            other_owner.remove(other)
    else:
        owner = next((d for d in descriptions if d.find(f"{{{namespace}}}*") is not None), descriptions[0])
        element = ET.SubElement(owner, tag)
    if container == "Alt":
        _set_default_language(element, str(value))
    else:
        _add_to_bag(element, [str(v) for v in value])
    ET.indent(root, space=" ")
    body = ET.tostring(root, encoding="unicode")
    return (_PACKET_BEGIN + body + _PACKET_END).encode("utf-8")


def _rdf(root: ET.Element) -> ET.Element:
    rdf = root if root.tag == f"{{{RDF}}}RDF" else root.find(f".//{{{RDF}}}RDF")
    if rdf is None:
        raise InputError("not XMP (it has no rdf:RDF)")
    return rdf


def read_field(data: bytes, field: str) -> str | list[str] | None:
    """What `field` holds in a sidecar (x-default text, or the keywords): for checks and tests."""
    namespace, name, container = FIELDS[field]
    root = _parse(data)
    element = root.find(f".//{{{RDF}}}Description/{{{namespace}}}{name}")
    if element is None:
        return None
    if container == "Bag":
        return [li.text or "" for li in element.iter(f"{{{RDF}}}li")]
    for li in element.iter(f"{{{RDF}}}li"):
        if li.get(XML_LANG) == "x-default":
            return li.text or ""
    return element.text


def _set_default_language(element: ET.Element, text: str) -> None:
    alt = element.find(f"{{{RDF}}}Alt")
    if alt is None:  # missing or a bare text value: make it the language alternative XMP wants
        element.text = None
        for child in list(element):
            element.remove(child)
        alt = ET.SubElement(element, f"{{{RDF}}}Alt")
    for li in alt.findall(f"{{{RDF}}}li"):
        if li.get(XML_LANG) == "x-default":
            li.text = text
            return
    li = ET.Element(f"{{{RDF}}}li", {XML_LANG: "x-default"})
    li.text = text
    alt.insert(0, li)  # x-default comes first (XMP spec part 1, 8.2.2.4)


def _add_to_bag(element: ET.Element, words: list[str]) -> None:
    bag = element.find(f"{{{RDF}}}Bag")
    if bag is None:
        element.text = None
        for child in list(element):
            element.remove(child)
        bag = ET.SubElement(element, f"{{{RDF}}}Bag")
    have = {(li.text or "").strip().casefold() for li in bag.findall(f"{{{RDF}}}li")}
    for word in words:
        word = word.strip()
        if word and word.casefold() not in have:
            have.add(word.casefold())
            ET.SubElement(bag, f"{{{RDF}}}li").text = word


def _parse(data: bytes) -> ET.Element:
    """The XML tree of a sidecar, with its own namespace prefixes kept for writing it back."""
    import io

    prefixes: dict[str, str] = {}
    try:
        for _event, (prefix, uri) in ET.iterparse(io.BytesIO(data), events=("start-ns",)):
            prefixes.setdefault(prefix, uri)
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as err:
        raise InputError(f"not XMP (not well-formed XML: {err})") from None
    _register(prefixes)
    return root


def _register(prefixes: dict[str, str]) -> None:
    import re

    for prefix, uri in prefixes.items():
        if prefix and prefix != "xml" and not re.fullmatch(r"ns\d+", prefix):
            try:
                ET.register_namespace(prefix, uri)
            except ValueError:
                pass  # a prefix ElementTree will not take: it writes its own (the content is the same)
