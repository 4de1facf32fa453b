"""The work behind `mcv model …`: call mcv.packaging, print results.

Results go to stdout (paths, names, JSON); progress and remarks to stderr.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from mcv.errors import CapabilityError, UsageError


def _host(env, flag: str | None) -> str:
    from mcv.core.config import load_config
    from mcv.core.ollama.host import resolve_host

    return resolve_host(flag, env.environ, load_config(env.environ).get("host"))


def _client(env, host_url: str):
    from mcv.core.ollama.client import OllamaClient

    return OllamaClient(host_url, environ=env.environ)


def _out(env, text: str = "") -> None:
    env.stdout.write(text + "\n")
    env.stdout.flush()


def confirm(env, question: str, *, default: bool = True) -> bool:
    """Ask on the terminal (env streams, so tests can answer)."""
    suffix = " [Y/n] " if default else " [y/N] "
    env.stderr.write(question + suffix)
    env.stderr.flush()
    answer = env.stdin.readline().decode("utf-8", "replace").strip().lower()
    if not answer:
        return default
    return answer in ("y", "yes")


# -- modelfile ------------------------------------------------------------


def modelfile(env, llm: Path, mmproj: Path, *, output: Path | None, bundle: bool, force: bool) -> None:
    from mcv.cli.transfer_ui import reporter_for
    from mcv.modelfile import identify, render
    from mcv.packaging import bundle as bundles
    from mcv.packaging.digest import DigestCache

    if bundle and output is None:
        raise UsageError("--bundle needs a folder: -o DIR")
    pair = identify.validate_pair(llm, mmproj)
    if output is None:
        env.stdout.write(render.modelfile_text(pair, relative_to=Path.cwd()))
        return
    if bundle:
        reporter = reporter_for(env)
        try:
            result = bundles.write_bundle(
                pair, output, force=force, cache=DigestCache.for_environment(env.environ), reporter=reporter
            )
        finally:
            reporter.close()
        if result.copied:
            env.note(f"copied {len(result.copied)} GGUF file(s): {output} is on another filesystem")
    else:
        result = bundles.write_modelfile(pair, output, force=force)
    env.note("nothing changed" if not result.written else f"wrote {', '.join(p.name for p in result.written)}")
    _out(env, str(result.modelfile))
    env.note(f"create the model with: ollama create NAME -f {result.modelfile}")


# -- create -----------------------------------------------------------------


def create(env, arguments: Sequence[str], *, force: bool, dry_run: bool, rehash: bool, host: str | None) -> None:
    from mcv.packaging.create import load_pair, split_arguments

    name, paths = split_arguments(arguments)
    pair = load_pair(paths)
    create_pair(env, pair, name=name, force=force, dry_run=dry_run, rehash=rehash, host=host)


def create_pair(env, pair, *, name, force=False, dry_run=False, rehash=False, host=None) -> None:
    from mcv.cli.transfer_ui import reporter_for
    from mcv.core.units import format_bytes
    from mcv.packaging.create import create_model

    host_url = _host(env, host)
    reporter = reporter_for(env)
    try:
        with _client(env, host_url) as client:
            result = create_model(
                client,
                pair,
                name=name,
                host=host_url,
                force=force,
                dry_run=dry_run,
                rehash=rehash,
                reporter=reporter,
                environ=env.environ,
            )
    finally:
        reporter.close()
    if dry_run:
        env.stdout.write(result.dry_run_text())
        return
    for target in result.created:
        _out(env, f"created {target}")
    for target in result.up_to_date:
        _out(env, f"{target} is up to date")
    everyday = result.names[-1].removesuffix(":latest")
    env.note(f"uploaded {format_bytes(result.uploaded_bytes)}; try: mcv ask IMAGE -m {everyday}")


# -- pull / fetch -------------------------------------------------------------


def pull(env, name: str | None, *, host: str | None) -> None:
    from mcv.cli.transfer_ui import reporter_for
    from mcv.core.config import load_config
    from mcv.packaging.pull import pull_model

    name = name or load_config(env.environ).get("model")
    reporter = reporter_for(env)
    try:
        with _client(env, _host(env, host)) as client:
            result = pull_model(client, name, reporter=reporter)
    finally:
        reporter.close()
    _out(env, f"pulled {name}")
    if not result.vision:
        env.note(f"{name} has no vision capability: mcv ask needs a vision model")


def fetch(env, generation, *, quant, create: bool | None, name, force: bool, host: str | None) -> None:
    from mcv.cli.transfer_ui import reporter_for
    from mcv.packaging import hf_fetch
    from mcv.packaging.create import load_pair

    reporter = reporter_for(env)
    try:
        # The repo's listing decides which files are the pair (names differ between repos).
        hub_pair = hf_fetch.hub_pair(generation, quant, env.environ, note=reporter.note)
        fetched = hf_fetch.fetch_pair(hub_pair, env.environ, progress=reporter)
    finally:
        reporter.close()
    _out(env, str(fetched.llm))
    _out(env, str(fetched.projector))
    if create is None:
        interactive = env.stdin_isatty and env.stderr_isatty
        create = interactive and confirm(env, "Create the Ollama model from this pair now?")
        if not interactive:
            again = f"mcv model fetch {hub_pair.generation_id}" + (f" --quant {hub_pair.quant}" if quant else "")
            env.note(f"create the Ollama model with: {again} --create")
    if create:
        create_pair(env, load_pair([fetched.llm, fetched.projector]), name=name, force=force, host=host)


# -- path / ls / show / rm ----------------------------------------------------


def path(env, name: str, *, models_dir: Path | None) -> None:
    from mcv.packaging import store

    stored = store.read_model(name, models_dir, env.environ)
    if stored.projector is None:
        raise CapabilityError(
            f"{stored.name.short()} has no projector layer: not a vision model", hint=f"its LLM is {stored.llm}"
        )
    _out(env, str(stored.llm))
    _out(env, str(stored.projector))


def ls(env, *, host: str | None, as_json: bool) -> None:
    with _client(env, _host(env, host)) as client:
        rows = []
        for entry in client.tags():
            details = entry.get("details") or {}
            rows.append(
                {
                    "name": str(entry.get("name") or entry.get("model") or ""),
                    "vision": "vision" in client.entry_capabilities(entry),
                    "size": entry.get("size"),
                    "family": details.get("family"),
                    "quantization": details.get("quantization_level"),
                    "digest": entry.get("digest"),
                }
            )
    if as_json:
        _out(env, json.dumps(rows, indent=2))
        return
    from mcv.core.units import format_bytes

    width = max([len(r["name"]) for r in rows] + [4])
    _out(env, f"{'NAME':<{width}}  VISION  {'SIZE':>8}  FAMILY / QUANT")
    for row in rows:
        mark = "yes" if row["vision"] else "-"
        size = format_bytes(row["size"]) if isinstance(row["size"], int) else "?"
        detail = " / ".join(str(x) for x in (row["family"], row["quantization"]) if x)
        _out(env, f"{row['name']:<{width}}  {mark:<6}  {size:>8}  {detail}")


def show(env, name: str, *, host: str | None, as_json: bool) -> None:
    from mcv.packaging.describe import generation_of, projector_summary

    with _client(env, _host(env, host)) as client:
        info = client.show(name)
    generation = generation_of(info)
    if as_json:
        _out(env, json.dumps({"generation": generation.id if generation else None, **info}, indent=2, default=str))
        return
    details = info.get("details") or {}
    _out(env, f"name          {name}")
    _out(env, f"generation    {generation.name if generation else 'not a known MiniCPM-V generation'}")
    _out(env, f"capabilities  {', '.join(info.get('capabilities') or []) or '?'}")
    _out(env, f"llm           {details.get('family', '?')} {details.get('parameter_size', '')} "
              f"{details.get('quantization_level', '')}".rstrip())
    _out(env, f"projector     {projector_summary(info) or 'none'}")
    if info.get("system"):
        _out(env, f"system        {info['system']}")
    _out(env, "parameters")
    for line in str(info.get("parameters") or "").splitlines():
        _out(env, f"  {' '.join(line.split())}")
    _out(env, "template")
    for line in str(info.get("template") or "").splitlines():
        _out(env, f"  {line}")


def rm(env, names: Sequence[str], *, host: str | None) -> None:
    with _client(env, _host(env, host)) as client:
        for model_name in names:
            client.delete(model_name)
            _out(env, f"deleted {model_name}")
