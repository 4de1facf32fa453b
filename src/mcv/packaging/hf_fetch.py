"""Get a generation's GGUF pair from Hugging Face into the HF cache, or find it there.

Which files make the pair is decided from a listing, never from recorded
names (mcv.packaging.hub_catalog): the Hub's listing of the generation's repo,
or, offline, the files of the repo's cached 'main' snapshot.

huggingface_hub does the transfer: its cache layout, locking, resume of a
dropped connection (Range request) and size check. It does not hash what it
downloaded, so every LFS file is verified here against the sha256 the Hub
advertised (the blob's name in the cache *is* that sha256); a mismatch removes
the file from the cache and fails. The verified digest lands in mcv's digest
cache, so a following `mcv model create` does not read the file again.

Settings (endpoint, cache dir, offline mode) come from the given environment,
not from huggingface_hub's import-time constants, so tests and `--host`-style
overrides see the same values the user's shell would.
"""

from __future__ import annotations

import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping, Protocol

from mcv.errors import BackendError, InputError, McvError, ServerUnavailable, first_line

DEFAULT_ENDPOINT = "https://huggingface.co"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class DownloadProgress(Protocol):
    def start(self, label: str, total: int | None, initial: int) -> None: ...
    def advance(self, label: str, count: int) -> None: ...
    def finish(self, label: str) -> None: ...


@dataclass(frozen=True)
class HubSettings:
    endpoint: str
    cache_dir: Path
    offline: bool

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> "HubSettings":
        endpoint = (environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")
        return cls(endpoint=endpoint, cache_dir=hub_cache_dir(environ), offline=_truthy(environ.get("HF_HUB_OFFLINE")))


def hub_cache_dir(environ: Mapping[str, str]) -> Path:
    """The HF hub cache, resolved the way huggingface_hub.constants does."""
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if environ.get(key):
            return Path(os.path.expandvars(environ[key])).expanduser()
    if environ.get("HF_HOME"):
        return Path(os.path.expandvars(environ["HF_HOME"])).expanduser() / "hub"
    cache_root = environ.get("XDG_CACHE_HOME") or os.path.join(environ.get("HOME") or str(Path.home()), ".cache")
    return Path(cache_root).expanduser() / "huggingface" / "hub"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class HubPair:
    """Where a generation's pair lives on the Hub (paths inside `repo`)."""

    generation_id: str
    quant: str
    repo: str
    llm_file: str
    projector_file: str
    size: int | None = None  # both files, bytes, as the listing gave it; None from the cache

    def files(self) -> str:
        return f"{self.llm_file}, {self.projector_file}"


@dataclass(frozen=True)
class FetchedPair:
    source: HubPair
    llm: Path
    projector: Path


@contextmanager
def _hub_log_as_notes(note: Callable[[str], None] | None) -> Iterator[None]:
    """huggingface_hub logs every retry as a multi-line warning on stderr; show
    one short note per retry instead (or nothing, for library callers)."""
    import logging

    class Retries(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            message = record.getMessage()
            if note is not None and message.startswith("Retrying in"):
                note(f"Hugging Face did not answer; {message[0].lower()}{message[1:]}")

    logger = logging.getLogger("huggingface_hub")
    saved = logger.handlers[:], logger.propagate
    logger.handlers, logger.propagate = [Retries()], False
    try:
        yield
    finally:
        logger.handlers, logger.propagate = saved


def download_file(
    repo: str,
    filename: str,
    settings: HubSettings,
    *,
    progress: DownloadProgress | None = None,
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Download (or reuse from the cache) one file; verify LFS files' sha256."""
    import huggingface_hub

    with _hub_errors(repo, settings, f"download {filename} from {repo}", filename=filename):
        with _hub_log_as_notes(getattr(progress, "note", None)):
            pointer = huggingface_hub.hf_hub_download(
                repo_id=repo,
                filename=filename,
                cache_dir=str(settings.cache_dir),
                endpoint=settings.endpoint,
                local_files_only=settings.offline,
                tqdm_class=_bridge_tqdm(filename, progress) if progress is not None else None,
            )
    path = Path(pointer)
    _verify_lfs_blob(path, filename, repo, os.environ if environ is None else environ)
    return path


def _verify_lfs_blob(pointer: Path, filename: str, repo: str, environ: Mapping[str, str]) -> None:
    """The cache names an LFS blob by its sha256: check the bytes agree."""
    from mcv.packaging.digest import DigestCache, sha256_file

    blob = Path(os.path.realpath(pointer))
    expected = blob.name
    if not _SHA256.match(expected):
        return  # a small git file (etag is a git sha1); nothing to compare with
    cache = DigestCache.for_environment(environ)
    if cache.lookup(blob) == f"sha256:{expected}":
        return
    actual = sha256_file(blob)
    if actual != f"sha256:{expected}":
        for leftover in (pointer, blob):
            try:
                leftover.unlink()
            except OSError:
                pass
        raise BackendError(
            f"download of {filename} from {repo} is corrupt: sha256 {actual[7:19]}… "
            f"does not match the advertised {expected[:12]}…",
            hint="the file was removed from the cache; run the command again to re-download it",
        )
    cache.store(blob, actual)


@contextmanager
def _hub_errors(repo: str, settings: HubSettings, doing: str, *, filename: str | None = None) -> Iterator[None]:
    """huggingface_hub's exceptions as one-line McvErrors; `doing` says what was
    attempted ("list REPO", "download FILE from REPO")."""
    from huggingface_hub import errors as hf_errors

    network_hint = "check the network, or HF_ENDPOINT"
    offline_hint = "unset HF_HUB_OFFLINE to download it"
    try:
        yield
    except hf_errors.OfflineModeIsEnabled:
        raise InputError(f"cannot {doing}: HF_HUB_OFFLINE is set", hint=offline_hint) from None
    except hf_errors.LocalEntryNotFoundError:  # offline, or the Hub did not answer
        if settings.offline:
            raise InputError(
                f"{filename} from {repo} is not in the Hugging Face cache and HF_HUB_OFFLINE is set", hint=offline_hint
            ) from None
        raise ServerUnavailable(f"cannot reach {settings.endpoint} to {doing}", hint=network_hint) from None
    except hf_errors.RepositoryNotFoundError:
        raise BackendError(
            f"Hugging Face repository {repo!r} not found at {settings.endpoint}",
            hint="a private or gated repository needs `hf auth login`",
        ) from None
    except hf_errors.RevisionNotFoundError:
        raise BackendError(f"Hugging Face repository {repo!r} has no 'main' revision") from None
    except hf_errors.EntryNotFoundError:
        raise BackendError(f"{filename!r} is not in Hugging Face repository {repo!r}") from None
    except hf_errors.HfHubHTTPError as err:
        raise BackendError(f"Hugging Face: {doing} failed: {first_line(err)}") from None
    except OSError as err:  # disk full, size mismatch after retries, permissions
        raise BackendError(f"{doing} failed: {first_line(err)}") from None
    except Exception as err:
        # httpx (huggingface_hub 1.x+) and requests (0.x) errors, under several names across versions
        if type(err).__module__.startswith(("httpx", "httpcore", "requests", "urllib3")):
            raise ServerUnavailable(
                f"cannot reach {settings.endpoint} to {doing}: {first_line(err)}", hint=network_hint
            ) from None
        raise


def list_repo_files(
    repo: str, settings: HubSettings, *, note: Callable[[str], None] | None = None
) -> dict[str, int | None]:
    """{path: size} of every file in the repo's 'main' revision, from the Hub.

    `note` hears about retries (huggingface_hub retries a refused connection
    with a back-off before giving up).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile

    with _hub_errors(repo, settings, f"list {repo}"), _hub_log_as_notes(note):
        entries = HfApi(endpoint=settings.endpoint).list_repo_tree(repo, recursive=True)
        return {entry.path: entry.size for entry in entries if isinstance(entry, RepoFile)}


def cached_repo_files(repo: str, settings: HubSettings) -> dict[str, Path]:
    """{path: file} of the repo's cached 'main' snapshot; empty when none. No network.

    huggingface_hub's cache layout: models--{org}--{name}/refs/main holds the
    commit, snapshots/{commit}/{path} link to the blobs. Links whose blob is
    gone (a removed corrupt download) do not count.
    """
    # huggingface_hub.file_download.repo_folder_name, without importing the library
    repo_dir = settings.cache_dir / ("models--" + repo.replace("/", "--"))
    try:
        commit = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return {}
    snapshot = repo_dir / "snapshots" / commit
    if not commit or not snapshot.is_dir():
        return {}
    found: dict[str, Path] = {}
    for folder, _dirs, names in os.walk(snapshot):
        for name in names:
            path = Path(folder) / name
            if path.is_file():
                found[path.relative_to(snapshot).as_posix()] = path
    return found


def hub_pair(
    generation_id: str | None = None,
    quant: str | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    note: Callable[[str], None] | None = None,
) -> HubPair:
    """The pair to download for a generation and quantisation (defaults filled in).

    Lists the generation's repo on the Hub; with HF_HUB_OFFLINE, its cached
    snapshot instead (so a fetch that is already complete still works offline).
    """
    from mcv.packaging import hub_catalog

    settings = HubSettings.from_environ(os.environ if environ is None else environ)
    record = hub_catalog.generation(generation_id)
    repo = record.hf_repo
    if settings.offline:
        cached = cached_repo_files(repo, settings)
        if not cached:
            raise InputError(
                f"{repo} is not in the Hugging Face cache and HF_HUB_OFFLINE is set",
                hint="unset HF_HUB_OFFLINE to download it",
            )
        picked = hub_catalog.pick_pair(cached, quant, f"the cached copy of {repo}")
        return HubPair(record.id, picked.quant, repo, picked.llm, picked.projector)
    listed = list_repo_files(repo, settings, note=note)
    picked = hub_catalog.pick_pair(listed, quant, repo)
    sizes = (listed[picked.llm], listed[picked.projector])
    size = None if None in sizes else sum(sizes)  # type: ignore[arg-type]
    return HubPair(record.id, picked.quant, repo, picked.llm, picked.projector, size)


def fetch_pair(
    hub_pair: HubPair,
    environ: Mapping[str, str],
    *,
    progress: DownloadProgress | None = None,
) -> FetchedPair:
    """Both files of `hub_pair`, projector first (small: fails fast)."""
    settings = HubSettings.from_environ(environ)
    projector = download_file(
        hub_pair.repo, hub_pair.projector_file, settings, progress=progress, environ=environ
    )
    llm = download_file(hub_pair.repo, hub_pair.llm_file, settings, progress=progress, environ=environ)
    return FetchedPair(hub_pair, llm, projector)


def find_cached_pair(
    generation_id: str | None = None,
    quant: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Path, Path] | None:
    """A complete (llm, projector) pair already in the HF cache, or None. No network.

    Looks at the requested generation (default: every supported one, the
    default generation first) and quantisation (default: Q4_K_M first, then
    any other cached one), picking files as `hub_pair` does.
    """
    from mcv.packaging import hub_catalog

    settings = HubSettings.from_environ(os.environ if environ is None else environ)
    for record in hub_catalog.search_order(generation_id):
        cached = cached_repo_files(record.hf_repo, settings)
        if not cached:
            continue
        labels = [quant] if quant is not None else hub_catalog.quants_by_preference(cached)
        for label in labels:
            try:
                picked = hub_catalog.pick_pair(cached, label, f"the cached copy of {record.hf_repo}")
            except McvError:
                continue  # not this quantisation, or no projector cached yet
            return cached[picked.llm], cached[picked.projector]
    return None


def _bridge_tqdm(label: str, progress: DownloadProgress) -> type:
    """A silent tqdm subclass that forwards byte counts to `progress`."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class Bridge(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            total = kwargs.get("total")
            initial = kwargs.get("initial") or 0
            super().__init__(*args, **kwargs)
            progress.start(label, total, initial)

        def update(self, n=1):
            if n:
                progress.advance(label, int(n))
            return super().update(n)

        def close(self):
            progress.finish(label)
            return super().close()

    return Bridge
