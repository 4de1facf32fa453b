"""Local GGUF pairs the in-process engine can run, and which model name each one is.

A pair answers only for the model that was asked for; it never stands in
for another one (`-m llava:13b` is not answered by a MiniCPM-V pair that
happens to be on disk). A *pair source* looks for the pair that IS a given
model name, and returns None when it has none:

- `path`:   the model named by a path (`-m ~/models/ggml-model-Q4_K_M.gguf`,
            or a folder holding one LLM and one projector);
- `config`: `llama.model` + `llama.mmproj`, which are the configured `model`
            (by default `minicpm-v`);
- and from the packaging room, which knows Ollama's store and the Hugging
  Face cache (mcv.packaging.local_pairs): a model pulled into Ollama, by its
  Ollama name; a pair `mcv model fetch` downloaded, by the name `mcv model
  create` would give it.

The core knows only the first two; whoever opens a session passes the others
in (arrows run downward: packaging -> core).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from mcv.errors import UsageError

PATH, CONFIG = "path", "config"


@dataclass(frozen=True)
class LocalPair:
    llm: Path
    projector: Path
    source: str  # "path", "config", "ollama store", "hugging face cache"
    generation: str | None = None  # e.g. "MiniCPM-Llama3-V 2.5", once identified


# (model, environ, config) -> the pair that is `model`, or None. Raises an
# McvError when what it found is broken (a configured path that is no file).
PairFinder = Callable[[str, Mapping[str, str], Any], "LocalPair | None"]


@dataclass(frozen=True)
class PairSource:
    name: str
    find: PairFinder
    # model -> how to get the pair that would be this model (e.g. the `mcv
    # model fetch` command), when this source knows; None otherwise.
    how_to_get: Callable[[str], "str | None"] | None = None


def looks_like_path(model: str) -> bool:
    """Whether `model` names a file or folder rather than a model.

    Only explicit spellings count (a GGUF file; a path starting with /, ~,
    ./ or ../ or a drive letter; a folder ending in /): a folder that happens
    to be called `minicpm-v` in the current directory must not hijack that
    model name.
    """
    return (
        model.lower().endswith(".gguf")
        or model.startswith(("/", "~", "./", "../", ".\\", "..\\"))
        or model.endswith(("/", "\\"))  # a folder, as tab completion writes it
        or re.match(r"^[A-Za-z]:[\\/]", model) is not None
    )


def _from_path(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    if not looks_like_path(model):
        return None
    from mcv.errors import InputError
    from mcv.modelfile import identify

    path = Path(model).expanduser()
    if path.is_dir():
        try:
            llm, projector = identify.find_pair_in_dir(path)
        except InputError as err:  # -m takes one path: the LLM's, whose projector is found beside it
            raise InputError(err.message, hint="name the LLM file: -m FOLDER/FILE.gguf") from None
    elif path.is_file():
        llm, projector = identify.find_partner(path)
    else:
        raise InputError(f"{model}: no such GGUF file or folder")
    return LocalPair(llm, projector, PATH)


def _from_config(model: str, environ: Mapping[str, str], config: Any) -> LocalPair | None:
    llm, mmproj = config.get("llama.model"), config.get("llama.mmproj")
    if not llm and not mmproj:
        return None
    from mcv.core.ollama.names import same_model

    if not same_model(model, config.configured("model")):
        return None  # the configured pair is the configured model, not any other
    if not llm or not mmproj:
        missing = "llama.mmproj" if llm else "llama.model"
        raise UsageError(
            f"{missing} is not set (llama.model and llama.mmproj go together)",
            hint=f"mcv config set {missing} PATH",
        )
    paths = [Path(str(p)).expanduser() for p in (llm, mmproj)]
    for key, path in zip(("llama.model", "llama.mmproj"), paths):
        if not path.is_file():
            raise UsageError(f"{key} points at {path}, which is not a file", hint=f"mcv config set {key} PATH")
    return LocalPair(paths[0], paths[1], CONFIG)


CORE_SOURCES: tuple[PairSource, ...] = (PairSource(PATH, _from_path), PairSource(CONFIG, _from_config))


def how_to_get(model: str, sources: Iterable[PairSource]) -> str | None:
    """The first source's advice for getting the pair that would be `model`."""
    for source in sources:
        advice = source.how_to_get(model) if source.how_to_get else None
        if advice:
            return advice
    return None


def find_pair(
    model: str, sources: Iterable[PairSource], environ: Mapping[str, str], config: Any
) -> LocalPair | None:
    """The first source's pair that is `model`, or None."""
    for source in sources:
        pair = source.find(model, environ, config)
        if pair is not None:
            return pair
    return None
