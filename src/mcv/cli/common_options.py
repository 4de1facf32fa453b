"""The options every asking command shares, declared once (same names, short flags and help).

    from mcv.cli import common_options as common

    def ask(model: Optional[str] = common.MODEL, ..., no_log: bool = common.NO_LOG):
        flags = common.config_flags(model=model, host=host, ..., no_log=no_log)

Short flags mean the same in every command: -m model, -b backend, -s system,
-t temperature, -o option, -p preset, -c clipboard. `config_flags` turns the
values into the config-key flags `Settings.load` takes (None: not given).
"""

from __future__ import annotations

from typing import Any

import typer

from mcv.core.backends.registry import describe_choices

MODEL = typer.Option(
    None, "--model", "-m", help="Model name, or a GGUF file or folder to run in process [default: config `model`, minicpm-v]."
)
HOST = typer.Option(None, "--host", help="Ollama host (overrides OLLAMA_HOST).")
HOSTS = typer.Option(
    None, "--host", help="Ollama host (overrides OLLAMA_HOST); repeat to spread requests over several daemons."
)
BACKEND = typer.Option(None, "--backend", "-b", help=describe_choices() + ".")
BASE_URL = typer.Option(
    None, "--base-url", metavar="URL",
    help="OpenAI-compatible server (vLLM, llama-server, LM Studio; implies --backend openai); repeat to spread requests over several [default: OPENAI_BASE_URL].",
)  # fmt: skip
SYSTEM = typer.Option(None, "--system", "-s", help="System prompt.")
TEMPERATURE = typer.Option(None, "--temperature", "-t", help="Sampling temperature.")
OPTION = typer.Option(
    None, "--option", "-o", metavar="KEY=VALUE", help="Ollama option, repeatable (e.g. num_ctx=8192)."
)
KEEP_ALIVE = typer.Option(None, "--keep-alive", help="Keep the model loaded (5m, 1h, -1).")
THINK = typer.Option(
    None, "--think/--no-think", help="Let a thinking model (e.g. MiniCPM-V 4.5) reason first [default: off]."
)
MAX_PIXELS = typer.Option(None, "--max-pixels", help="Pixel budget for each image.")
SCHEMA = typer.Option(
    None, "--schema", help="Constrain the answer to JSON: a schema (inline, a file, or shorthand like 'total float, date'), or `json`."
)
PRESET = typer.Option(
    None, "--preset", "-p", help="Task preset: describe, caption, alt, ocr, table, receipt, tags, or your own (`mcv presets ls`)."
)
CLIPBOARD = typer.Option(False, "--clipboard", "-c", help="Add the image on the clipboard.")
PLAIN = typer.Option(False, "--plain", help="Never render Markdown, even on a terminal.")
NO_LOG = typer.Option(False, "--no-log", help="Keep this out of the history (`mcv history`).")


def config_flags(
    *,
    model: str | None,
    host: str | list[str] | None,
    backend: str | None,
    system: str | None,
    temperature: float | None,
    keep_alive: str | None,
    max_pixels: int | None,
    plain: bool = False,
    no_log: bool = False,
    base_url: list[str] | None = None,
) -> dict[str, Any]:
    """The command line's values of config keys: they beat the environment and the file.
    --base-url names OpenAI-compatible servers, so it means --backend openai; --host repeated names
    several Ollama daemons (one engine)."""
    if isinstance(host, list):
        host = (host[0] if len(host) == 1 else tuple(host)) if host else None
    if isinstance(host, tuple):
        if backend not in (None, "auto", "ollama"):
            from mcv.errors import UsageError

            raise UsageError(f"--host names Ollama daemons; --backend {backend} has none")
        backend = "ollama"  # several daemons: never a local fallback in their stead
    if base_url:
        if backend not in (None, "openai"):
            from mcv.errors import UsageError

            raise UsageError(f"--base-url names OpenAI-compatible servers; --backend {backend} has none")
        backend = "openai"
    return {
        "model": model,
        "host": host,
        "backend": backend,
        "system": system,
        "temperature": temperature,
        "keep_alive": keep_alive,
        "images.max_pixels": max_pixels,
        "render.markdown": False if plain else None,
        "history.log": False if no_log else None,
        "openai.base_url": tuple(base_url) if base_url else None,
    }
