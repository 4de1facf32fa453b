"""A session's settings, resolved once: config file, environment and flags,
plus where local GGUF pairs may be found.

    settings = Settings.load(environ, flags={"model": "minicpm-v:2.5-q4_K_M"},
                             pair_sources=mcv.packaging.local_pairs.SOURCES)

Flags use the config key names (`mcv config show` lists them); what is not
a config key (options, schema, think, stream, pages) is a per-request matter
and merges into `Parameters` / `PrepareSettings` later.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Iterable, Mapping

from mcv.core.backends.base import Parameters
from mcv.core.config import Config, load_config
from mcv.core.images.types import PrepareSettings
from mcv.core.local_pairs import CORE_SOURCES, LocalPair, PairSource, find_pair, how_to_get
from mcv.errors import UsageError


@dataclass(frozen=True)
class Settings:
    config: Config
    pair_sources: tuple[PairSource, ...] = CORE_SOURCES

    @classmethod
    def load(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        flags: Mapping[str, Any] | None = None,
        pair_sources: Iterable[PairSource] = (),
    ) -> "Settings":
        """The core's own pair sources first, then the ones given (Ollama's store, the HF cache)."""
        return cls(load_config(environ, flags), (*CORE_SOURCES, *pair_sources))

    @property
    def environ(self) -> Mapping[str, str]:
        return self.config.environ

    @property
    def backend(self) -> str:
        return self.config.get("backend")

    def ollama_host(self) -> str:
        """--host > OLLAMA_HOST > the config's `host` > Ollama's default (the first of several --host)."""
        return self.ollama_hosts()[0]

    def ollama_hosts(self) -> list[str]:
        """Every daemon to spread requests over (--host repeated), each once; else [ollama_host()]."""
        from mcv.core.ollama.host import resolve_host

        flag = self.config.flags.get("host")
        given = [flag] if isinstance(flag, str) or flag is None else list(flag) or [None]
        hosts: list[str] = []
        for text in given:
            host = resolve_host(text, self.environ, self.config.configured("host"))
            if host not in hosts:
                hosts.append(host)
        return hosts

    def parameters(self) -> Parameters:
        """Every request's starting point: the model, keep_alive and temperature the user set up."""
        from mcv.core.arguments import parse_keep_alive

        temperature = self.config.get("temperature")
        return Parameters(
            model=self.config.get("model"),
            options={"temperature": temperature} if temperature is not None else {},
            keep_alive=parse_keep_alive(self.config.get("keep_alive")),
        )

    def system(self) -> str | None:
        """The configured system prompt; None leaves the model's own default."""
        return self.config.get("system")

    def prepare_settings(self) -> PrepareSettings:
        """How images are prepared: the configured pixel budget and JPEG quality."""
        budget = self.config.get("images.max_pixels")
        if budget <= 0:
            raise UsageError("--max-pixels must be a positive number")
        return replace(PrepareSettings(), max_pixels=budget, jpeg_quality=self.config.get("images.jpeg_quality"))

    def find_pair(self, model: str) -> LocalPair | None:
        return find_pair(model, self.pair_sources, self.environ, self.config)

    def how_to_get_pair(self, model: str) -> str | None:
        return how_to_get(model, self.pair_sources)
