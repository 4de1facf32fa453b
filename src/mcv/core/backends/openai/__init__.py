"""The openai backend: OpenAI-compatible servers (vLLM, llama-server, LM Studio, Ollama's /v1).

Where: `--base-url URL` (repeatable) > OPENAI_BASE_URL > the config's
`openai.base_url` (space-separated URLs) > vLLM's default address. The API
key: OPENAI_API_KEY > the config's `openai.api_key`; it is sent only as the
Authorization header. Several URLs are one engine whose requests are spread
over the endpoints (core/backends/endpoints.py).

`open_backend` asks every endpoint for its models (/models): none answering
is ServerUnavailable, none having the model is ModelNotFound (with what
they serve). An endpoint that does not answer now stays in the pool, out for
a while, and is tried again later. A server silent for `openai.stall_timeout`
seconds has failed the same way (client.EndpointStalled).
"""

from __future__ import annotations

import re

from mcv.core.backends.endpoints import close_engine, open_pool
from mcv.core.backends.openai.backend import OpenAIBackend
from mcv.core.backends.openai.client import OpenAIClient, normalise_base_url
from mcv.errors import McvError, ModelNotFound, ServerUnavailable, UsageError

__all__ = ["OpenAIBackend", "api_key", "base_urls", "open_backend"]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"  # where `vllm serve` listens by default


def base_urls(settings) -> list[str]:
    """The endpoints, normalised (…/v1), each once, in the order given."""
    flag = settings.config.flags.get("openai.base_url")
    if flag:
        texts = [flag] if isinstance(flag, str) else list(flag)
    elif (settings.environ.get("OPENAI_BASE_URL") or "").strip():
        texts = [settings.environ["OPENAI_BASE_URL"]]
    else:
        texts = [settings.config.configured("openai.base_url") or DEFAULT_BASE_URL]
    urls: list[str] = []
    for text in texts:
        for part in re.split(r"[\s,]+", text.strip()):
            if part and normalise_base_url(part) not in urls:
                urls.append(normalise_base_url(part))
    if not urls:
        raise UsageError("--base-url needs a URL", hint="e.g. --base-url http://127.0.0.1:8000/v1")
    return urls


def api_key(settings) -> str | None:
    return (settings.environ.get("OPENAI_API_KEY") or "").strip() or settings.config.configured("openai.api_key") or None


def open_backend(settings, model: str) -> OpenAIBackend:
    urls = base_urls(settings)
    key = api_key(settings)
    stall = settings.config.get("openai.stall_timeout")
    clients = {url: OpenAIClient(url, api_key=key, stall_timeout=stall) for url in urls}
    pool = open_pool(urls, settings.config.get("openai.slots"))
    models: dict[str, dict] = {}
    lacking: set[str] = set()
    down: list[McvError] = []
    try:
        for endpoint in pool.endpoints:
            try:
                listed = clients[endpoint.url].models()
            except McvError as err:
                if endpoint.outstanding == 0 and not endpoint.out(pool.clock()):
                    pool.acquire_soonest([endpoint])
                    pool.failed(endpoint)  # out for a while; requests go to the others
                down.append(err)
                continue
            ids = {entry["id"]: entry for entry in listed}
            models.update(ids)
            if model not in ids and f"{model}:latest" not in ids:
                lacking.add(endpoint.url)
        if len(down) == len(urls):
            if len(urls) == 1:
                raise down[0]
            raise ServerUnavailable(
                f"none of the {len(urls)} OpenAI-compatible servers answers: " + "; ".join(e.message for e in down),
                hint=down[0].hint,
            )
        backend = OpenAIBackend(pool, clients, models, lacking)
        if len(lacking) + len(down) == len(urls):
            raise ModelNotFound(
                f"model '{model}' is not served at {backend.where}; it serves: {', '.join(sorted(models)) or 'nothing'}",
                hint="name one of them with -m (vLLM: the name given to `vllm serve`, or --served-model-name)",
            )
        return backend
    except BaseException:
        close_engine(clients.values(), pool)
        raise
