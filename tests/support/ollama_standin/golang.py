"""What Ollama's Go runtime prints, reproduced: JSON encoding with HTML
escaping, timestamps, %#v, base64 decoding errors and time.ParseDuration.

Mirroring Go exactly is what makes the stand-in strict: a client bug the real
daemon answers with an error gets the same error, with the same text, here.
(Request binding is in gojson.py.)
"""

from __future__ import annotations

import json
import re
from typing import Any

# ---------------------------------------------------------------- encoding


def marshal(obj: Any) -> bytes:
    """json.Marshal: compact, UTF-8, and <, >, & escaped as Go does."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for raw, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                     ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, esc)
    return text.encode("utf-8")


def rfc3339nano(ns: int) -> str:
    """time.Time JSON form (UTC): nanoseconds with trailing zeros trimmed."""
    import time

    secs, frac = divmod(ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    if frac:
        stamp += "." + f"{frac:09d}".rstrip("0")
    return stamp + "Z"


def sharp_v(value: Any) -> str:
    """fmt's %#v for a value decoded from JSON into `any`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, (int, float)):
        return format_g(float(value))
    return repr(value)


def format_g(x: float) -> str:
    """strconv.FormatFloat(x, 'g', -1, 64): shortest digits, %e from exponent 6."""
    from decimal import Decimal

    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digit_tuple, exponent = Decimal(repr(abs(x))).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent  # digits before the decimal point
    exp = point - 1
    if exp < -4 or exp >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{body}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if point <= 0:
        return sign + "0." + "0" * (-point) + digits
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return sign + digits[:point] + "." + digits[point:]


def quote(s: str) -> str:
    """strconv.Quote (printable Unicode kept, the rest escaped)."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\a":
            out.append("\\a")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\v":
            out.append("\\v")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable():
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


# ---------------------------------------------------------------- base64

_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_INDEX = {c: i for i, c in enumerate(_B64)}
# Canonical padded base64 (what every client sends): Go and binascii decode it to
# the same bytes, so it takes the C path; anything else (newlines, bad padding,
# stray characters) goes through the port below for Go's exact error offsets.
_CANONICAL_B64 = re.compile(r"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")


def b64decode(text: str) -> tuple[bytes | None, str | None]:
    """base64.StdEncoding.Decode as encoding/json applies it to []byte fields.

    Returns (data, None) or (None, "illegal base64 data at input byte N").
    """
    if len(text) % 4 == 0 and _CANONICAL_B64.fullmatch(text):
        import base64

        return base64.b64decode(text), None
    src = text.encode("utf-8")  # Go indexes the UTF-8 bytes
    out = bytearray()
    si = 0
    n = len(src)
    while si < n:
        quantum: list[int] = []
        j = 0
        dlen = 4
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out), None
                return None, _corrupt(si - j)  # padding required
            c = src[si]
            si += 1
            value = _B64_INDEX.get(chr(c))
            if value is not None:
                quantum.append(value)
                j += 1
                continue
            if c in (0x0A, 0x0D):
                continue  # newlines are ignored
            if c != 0x3D:  # '='
                return None, _corrupt(si - 1)
            if j in (0, 1):
                return None, _corrupt(si - 1)  # incorrect padding
            if j == 2:
                while si < n and src[si] in (0x0A, 0x0D):
                    si += 1
                if si == n:
                    return None, _corrupt(n)  # not enough padding
                if src[si] != 0x3D:
                    return None, _corrupt(si - 1)
                si += 1
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            if si < n:
                return None, _corrupt(si)  # trailing garbage
            dlen = j
            break
        quantum += [0] * (4 - len(quantum))
        val = quantum[0] << 18 | quantum[1] << 12 | quantum[2] << 6 | quantum[3]
        out += bytes([(val >> 16) & 0xFF, (val >> 8) & 0xFF, val & 0xFF])[: dlen - 1]
        if dlen < 4:
            break
    return bytes(out), None


def _corrupt(offset: int) -> str:
    return f"illegal base64 data at input byte {offset}"


# ---------------------------------------------------------------- durations

_UNITS = {"ns": 1, "us": 1_000, "\u00b5s": 1_000, "\u03bcs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_duration(text: str) -> int:
    """time.ParseDuration in nanoseconds; ValueError carries Go's message."""
    orig, s = text, text
    neg = False
    if s and s[0] in "+-":
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{orig}"')
    total = 0.0
    while s:
        m = re.match(r"(\d*)(?:\.(\d*))?", s)
        whole, frac = m.group(1), m.group(2)
        if not whole and not frac:
            raise ValueError(f'time: invalid duration "{orig}"')
        s = s[m.end():]
        unit = re.match(r"[^0-9.]*", s).group(0)
        if not unit:
            raise ValueError(f'time: missing unit in duration "{orig}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{orig}"')
        s = s[len(unit):]
        total += float(f"{whole or 0}.{frac or 0}") * _UNITS[unit]
    return int(-total if neg else total)


def duration_ns(value: Any) -> int | None:
    """api.Duration's value in ns for an already validated keep_alive."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return -1 if value < 0 else int(value * 1e9)
    ns = parse_duration(value)
    return -1 if ns < 0 else ns
