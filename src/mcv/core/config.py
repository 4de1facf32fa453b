"""User configuration: one TOML file, keys declared as data.

Precedence is flag > environment > file > default. A surface passes its
flags (command-line values under the config key names) to `load_config`, so
every later `get` sees the one resolved value.

The file lives at the platform's config path (platformdirs), or where
`MCV_CONFIG` points. Each key `a.b` can also be set with `MCV_A_B`.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, MutableMapping

from mcv.core.backends.registry import AUTO, CHOICES as BACKEND_CHOICES
from mcv.errors import UsageError


def _bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"expected true or false, got {text!r}")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {text!r}")
        return text

    parse.__name__ = "one of " + "|".join(allowed)
    return parse


_GO_DURATION = re.compile(r"-?(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")


def keep_alive_text(text: str) -> str:
    """Ollama's keep_alive as text: whole seconds, or a Go duration (5m, 1h30m, -1)."""
    stripped = text.strip()
    if re.fullmatch(r"-?\d+", stripped) or _GO_DURATION.fullmatch(stripped):
        return stripped
    raise ValueError(f"must be seconds or a duration like 5m or 1h, not {text!r}")


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError(f"expected a positive whole number, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise ValueError(f"expected a positive number of seconds, got {text!r}")
    return value


@dataclass(frozen=True)
class Key:
    name: str
    parse: Callable[[str], Any]
    default: Any
    help: str
    secret: bool = False  # a credential: `mcv config show` says whether it is set, never what it is

    @property
    def env_var(self) -> str:
        return "MCV_" + self.name.upper().replace(".", "_").replace("-", "_")


# The model mcv asks, creates and pulls when none is named.
DEFAULT_MODEL = "minicpm-v"

KEYS: dict[str, Key] = {
    key.name: key
    for key in (
        Key("model", str, DEFAULT_MODEL, "model name (Ollama) used when -m is not given"),
        Key("host", str, None, "Ollama host; OLLAMA_HOST and --host take precedence"),
        Key("backend", _choice(*BACKEND_CHOICES), AUTO, "engine: " + ", ".join(BACKEND_CHOICES)),
        Key("keep_alive", keep_alive_text, None, "how long Ollama keeps the model loaded (e.g. 5m, -1)"),
        Key("temperature", float, None, "sampling temperature; unset = the model's default"),
        Key("system", str, None, "system prompt; unset = the model's default"),
        Key("images.max_pixels", _positive_int, 9 * 448 * 448, "pixel budget images are shrunk to"),
        Key("images.jpeg_quality", _positive_int, 90, "JPEG quality of prepared images"),
        Key("openai.base_url", str, None, "OpenAI-compatible server URL(s), space-separated; OPENAI_BASE_URL and --base-url take precedence"),
        Key("openai.api_key", str, None, "API key for the openai backend; OPENAI_API_KEY takes precedence (never shown)", secret=True),
        Key("openai.slots", _positive_int, 1, "requests each OpenAI-compatible server answers at once (batch lanes)"),
        Key(
            "openai.stall_timeout", _positive_seconds, 300.0,
            "seconds without a byte from an OpenAI-compatible server before it counts as failed (stopped, or its "
            "machine unreachable); keep it above the longest wait in a busy server's queue, or a busy server looks dead",
        ),  # fmt: skip
        Key("llama.model", str, None, "LLM GGUF for the in-process backend"),
        Key("llama.mmproj", str, None, "projector GGUF for the in-process backend"),
        Key("llama.n_ctx", _positive_int, None, "context size for the in-process backend"),
        Key("llama.n_threads", _positive_int, None, "CPU threads for the in-process backend"),
        Key("llama.n_gpu_layers", int, 0, "layers offloaded to the GPU (-1 = all)"),
        Key("render.markdown", _bool, True, "render answers as Markdown on a terminal"),
        Key("history.log", _bool, True, "keep chats and asks in the history database (`mcv history`)"),
        Key("chat.preview", _choice("auto", "kitty", "sixel", "blocks", "off"), "auto", "image thumbnails in `mcv chat`"),
        Key("mcp.allow", str, None, "folders `mcv mcp` may read images from besides its working folder (separated like PATH)"),
    )
}


# Tables of named entries, kept whole rather than flattened into keys: each
# `[presets.NAME]` is a preset (core/presets.py validates them when used).
TABLES = ("presets",)


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    override = environ.get("MCV_CONFIG")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("mcv", appauthor=False)) / "config.toml"


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for name, value in table.items():
        dotted = f"{prefix}{name}"
        if isinstance(value, Mapping) and dotted not in TABLES:
            flat.update(_flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def _read_file(path: Path) -> dict[str, Any]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as err:
        raise UsageError(f"cannot read config file {path}: {err.strerror}") from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        return _flatten(tomllib.loads(raw.decode("utf-8")))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(
            f"config file {path} is not valid TOML: {err}", hint="fix it or run `mcv config path` to find it"
        ) from None


def _coerce(key: Key, value: Any, origin: str) -> Any:
    """Values from TOML may already be typed; values from env vars are text."""
    if value is None:
        return None
    if key.parse in (str,) and isinstance(value, str):
        return value
    if key.parse is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if key.parse in (int, _positive_int) and isinstance(value, int) and not isinstance(value, bool):
        return key.parse(str(value))
    if key.parse is _bool and isinstance(value, bool):
        return value
    try:
        return key.parse(str(value))
    except ValueError as err:
        raise UsageError(f"bad value for {key.name} in {origin}: {err}") from None


@dataclass
class Config:
    path: Path
    file_values: dict[str, Any]
    environ: Mapping[str, str]
    flags: Mapping[str, Any] = field(default_factory=dict)  # key -> command-line value (None = not given)

    def get(self, name: str) -> Any:
        value, _ = self.lookup(name)
        return value

    def lookup(self, name: str) -> tuple[Any, str]:
        """The effective value and where it came from (flag/env/file/default)."""
        if self.flags.get(name) is not None:
            KEYS[name]  # an unknown key is a bug, flag or not
            return self.flags[name], "flag"
        return self._configured(name)

    def configured(self, name: str) -> Any:
        """The value without command-line flags: what the user set up (env, file, default)."""
        return self._configured(name)[0]

    def _configured(self, name: str) -> tuple[Any, str]:
        key = KEYS[name]
        if key.env_var in self.environ and self.environ[key.env_var] != "":
            return _coerce(key, self.environ[key.env_var], key.env_var), "env"
        if name in self.file_values:
            return _coerce(key, self.file_values[name], str(self.path)), "file"
        return key.default, "default"

    def table(self, name: str) -> dict[str, Any]:
        """A whole table of the file (TABLES), e.g. {"receipt": {...}} for [presets.receipt]."""
        value = self.file_values.get(name, {})
        if not isinstance(value, Mapping):
            raise UsageError(f"{name} in config file {self.path} must be a table ([{name}.NAME])")
        return dict(value)

    def as_mapping(self) -> dict[str, Any]:
        return {name: self.get(name) for name in KEYS}


def load_config(environ: Mapping[str, str] | None = None, flags: Mapping[str, Any] | None = None) -> Config:
    environ = os.environ if environ is None else environ
    unknown_flags = sorted(set(flags or {}) - set(KEYS))
    if unknown_flags:
        raise KeyError(f"not a config key: {unknown_flags[0]}")
    path = config_path(environ)
    values = _read_file(path)
    unknown = sorted(set(values) - set(KEYS) - set(TABLES))
    if unknown:
        raise UsageError(
            f"unknown key {unknown[0]!r} in config file {path}",
            hint="known keys: " + ", ".join(KEYS),
        )
    return Config(path=path, file_values=values, environ=environ, flags=dict(flags or {}))


def set_value(name: str, text: str, environ: Mapping[str, str] | None = None) -> Path:
    """Validate and store `name = text` in the config file; other keys are kept."""
    if name not in KEYS:
        raise UsageError(f"unknown config key {name!r}", hint="known keys: " + ", ".join(KEYS))
    key = KEYS[name]
    try:
        value = key.parse(text)
    except ValueError as err:
        raise UsageError(f"bad value for {name}: {err}") from None
    return _write_change(name, value, environ)


def unset_value(name: str, environ: Mapping[str, str] | None = None) -> Path:
    if name not in KEYS:
        raise UsageError(f"unknown config key {name!r}", hint="known keys: " + ", ".join(KEYS))
    return _write_change(name, None, environ)


def _write_change(name: str, value: Any, environ: Mapping[str, str] | None) -> Path:
    path = config_path(environ)
    values = _read_file(path)  # also: refuses a file that is not valid TOML before anything is written
    if value is None:
        values.pop(name, None)
    else:
        values[name] = value
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        text = ""
    from mcv.core.atomic import replace_atomically

    content = edited_toml(text, name, value).encode("utf-8")
    secret = any(KEYS[dotted].secret for dotted in values if dotted in KEYS)
    target = path.resolve()  # a config linked from a dotfiles repo stays a link: the file it names changes
    target.parent.mkdir(parents=True, exist_ok=True)
    if secret and target.exists() and stat.S_IMODE(target.stat().st_mode) & 0o077:
        os.chmod(target, stat.S_IMODE(target.stat().st_mode) & 0o700)  # a key in it: for the owner's eyes only

    def fill(tmp: Path) -> None:
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if secret else 0o666), "wb") as out:
            out.write(content)

    replace_atomically(target, fill, keep=True)  # keep: the file's mode (and group) as the user set them
    return path


def edited_toml(text: str, name: str, value: Any) -> str:
    """`text` with the dotted key `name` set to `value` (None: removed), and nothing else changed:
    the person's comments, order, layout and other tables stay as they wrote them."""
    import tomlkit

    document = tomlkit.parse(text)
    *parents, leaf = name.split(".")
    table: Any = document
    for parent in parents:
        if parent not in table:
            if value is None:
                return text
            table[parent] = tomlkit.table()
        table = table[parent]
        if not isinstance(table, MutableMapping):
            raise UsageError(f"cannot set {name}: {parent!r} in the config file is a value, not a table",
                             hint="fix the file (`mcv config path` finds it)")  # fmt: skip
    if value is None:
        if leaf not in table:
            return text
        del table[leaf]
    else:
        table[leaf] = list(value) if isinstance(value, tuple) else value
    return tomlkit.dumps(document)
