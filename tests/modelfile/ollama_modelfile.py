"""A Python mirror of ollama's Modelfile parser (parser/parser.go ParseFile) and
of how `Modelfile.CreateRequest` turns commands into an /api/create request.

Written from the upstream rules (ollama fb30760) to round-trip mcv's output in
tests; it follows the same rune-by-rune state machine:
  - a command name is letters, ended by a space/tab; PARAMETER/MESSAGE take a
    second word;
  - a value grows until a newline at which strip(buffer) unquotes: bare,
    "..." or \"\"\"...\"\"\" (no escapes); spaces/tabs never end a value;
  - runes that are not strconv.IsPrint are dropped unless they are a space,
    tab, CR or LF arriving inside a value;
  - '#' at the start of a line is a comment; a Modelfile needs a FROM.
"""

from __future__ import annotations

import unicodedata

NIL, NAME, VALUE, PARAMETER, MESSAGE, COMMENT = range(6)
COMMANDS = {"from", "license", "template", "system", "adapter", "draft", "renderer", "parser", "parameter", "message", "requires"}

# api.Options / api.Runner json tags -> kind used by api.FormatParams
PARAM_KINDS = {
    "num_keep": int, "seed": int, "num_predict": int, "top_k": int, "top_p": float, "min_p": float,
    "typical_p": float, "repeat_last_n": int, "temperature": float, "repeat_penalty": float,
    "presence_penalty": float, "frequency_penalty": float, "stop": list, "num_ctx": int,
    "num_batch": int, "num_gpu": int, "main_gpu": int, "use_mmap": bool, "num_thread": int,
    "draft_num_predict": int,
}


class ParseError(ValueError):
    pass


def _is_print(ch: str) -> bool:
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def _space(ch: str) -> bool:
    return ch in " \t"


def _newline(ch: str) -> bool:
    return ch in "\r\n"


def _alpha(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def unquote(s: str) -> tuple[str, bool]:
    if s[:3] == '"""':
        if len(s) >= 6 and s[-3:] == '"""':
            return s[3:-3], True
        return "", False
    if s[:1] == '"':
        if len(s) >= 2 and s[-1] == '"':
            return s[1:-1], True
        return "", False
    return s, True


def _go_trim(s: str) -> str:
    return s.strip(" \t\n\r\v\f\u0085\u00a0")


def _next_state(ch: str, state: int) -> tuple[int, str | None]:
    """parseRuneForState: (next state, rune to keep or None); raises ParseError."""
    if state == NIL:
        if ch == "#":
            return COMMENT, None
        if _space(ch) or _newline(ch):
            return NIL, None
        return NAME, ch
    if state == NAME:
        if _alpha(ch):
            return NAME, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("invalid command")
    if state == VALUE:
        if _newline(ch) or _space(ch):
            return NIL, ch
        return VALUE, ch
    if state == PARAMETER:
        if _alpha(ch) or ch.isdigit() and ch.isascii() or ch == "_":
            return PARAMETER, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("unexpected EOF")
    if state == MESSAGE:
        if _alpha(ch):
            return MESSAGE, ch
        if _space(ch):
            return VALUE, None
        raise ParseError("unexpected EOF")
    if state == COMMENT:
        return (NIL, None) if _newline(ch) else (COMMENT, None)
    raise ParseError("bad state")


def parse(text: str) -> list[tuple[str, str]]:
    """[(command name, args)] as ParseFile returns them (name "model" for FROM)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    commands: list[tuple[str, str]] = []
    buf: list[str] = []
    state = NIL
    name = ""
    role = ""
    for ch in text:
        nxt, keep = _next_state(ch, state)
        r = keep if keep is not None else ""
        if nxt != state:
            if state == NAME:
                word = "".join(buf)
                if word.lower() not in COMMANDS:
                    raise ParseError("invalid command")
                low = word.lower()
                if low == "from":
                    name = "model"
                elif low == "parameter":
                    nxt = PARAMETER
                elif low == "message":
                    nxt = MESSAGE
                    name = low
                else:
                    name = low
            elif state == PARAMETER:
                name = "".join(buf)
            elif state == MESSAGE:
                word = "".join(buf)
                if word not in ("system", "user", "assistant"):
                    raise ParseError("invalid message role")
                role = word
            elif state == VALUE:
                value, ok = unquote(_go_trim("".join(buf)))
                if not ok or _space(r):
                    buf.append(r)
                    continue
                if role:
                    value = role + ": " + value
                    role = ""
                commands.append((name, value))
            buf = []
            state = nxt
        if r and _is_print(r):
            buf.append(r)
    if state == VALUE:
        value, ok = unquote(_go_trim("".join(buf)))
        if not ok:
            raise ParseError("unexpected EOF")
        if role:
            value = role + ": " + value
        commands.append((name, value))
    elif state not in (NIL, COMMENT):
        raise ParseError("unexpected EOF")
    if not any(n == "model" for n, _ in commands):
        raise ParseError("no FROM line")
    return commands


def create_request(commands: list[tuple[str, str]]) -> dict:
    """The parts of Modelfile.CreateRequest that do not touch the disk: FROM
    values are listed under "from_paths"; parameters are typed like FormatParams."""
    req: dict = {"from_paths": []}
    params: dict = {}
    licenses: list[str] = []
    for name, args in commands:
        if name == "model":
            req["from_paths"].append(args)
        elif name in ("template", "system", "renderer", "parser"):
            req[name] = args
        elif name == "license":
            licenses.append(args)
        elif name in ("adapter", "draft", "requires", "message"):
            req.setdefault(name, []).append(args)
        else:
            kind = PARAM_KINDS.get(name)
            if kind is None:
                raise ParseError(f"unknown parameter '{name}'")
            if kind is list:
                params.setdefault(name, []).append(args)
            elif kind is bool:
                params[name] = {"true": True, "false": False}[args.lower()]
            else:
                params[name] = kind(args)
    if params:
        req["parameters"] = params
    if licenses:
        req["license"] = licenses
    return req
