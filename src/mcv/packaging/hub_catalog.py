"""Which files of a Hugging Face repo make a generation's pair: picked by role and quantisation.

File names drift between repos and over time, so mcv records only each
generation's repo (`Generation.hf_repo`) and picks from a listing: the Hub's
(`mcv model fetch`, `mcv setup`) or the cached snapshot's (offline, and the
in-process engine looking for a pair). One picker serves both:

- projector: a GGUF whose name contains "mmproj"; of several, the most
  precise (F16, then BF16, F32, Q8_0, then any other);
- LLM: any other GGUF whose name carries the requested quantisation label
  (`identify.quant_in_name`, compared case-insensitively), default Q4_K_M.

Names in the wild, all picked by these rules (tests/packaging/test_hf_fetch.py):
  openbmb/MiniCPM-Llama3-V-2_5-gguf, MiniCPM-V-2_6-gguf, MiniCPM-V-4_5-gguf:
      ggml-model-{Q}.gguf + mmproj-model-f16.gguf
  openbmb/MiniCPM-o-2_6-gguf: Model-7.6B-{Q}.gguf + mmproj-model-f16.gguf
  openbmb/MiniCPM-V-4-gguf: ggml-model-{Q}.gguf + mmproj-model-f16.gguf
      (OpenBMB MiniCPM-V-Apps `ModelInfo.kt`; ComfyUI MiniCPM-V-4 loaders)
  openbmb/MiniCPM-V-4.6-gguf: MiniCPM-V-4_6-{Q}.gguf + mmproj-model-f16.gguf
      (xorbitsai/inference `llm_family.json`)
  ggml-org/MiniCPM-V-4.6-GGUF: MiniCPM-V-4.6-{Q}.gguf + mmproj-MiniCPM-V-4.6-Q8_0.gguf
The "-Thinking" checkpoints live in repos of their own, so a repo holds one
LLM per quantisation; two would be ambiguous and are refused, not guessed.

Nothing here touches the network or the disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from mcv.errors import BackendError, InputError

if TYPE_CHECKING:
    from mcv.modelfile.generations import Generation

DEFAULT_GENERATION = "2.5"  # MiniCPM-Llama3-V 2.5: the model mcv is built around
DEFAULT_QUANT = "Q4_K_M"  # published for every generation; ~5 GB for the 8B ones
PROJECTOR_PREFERENCE = ("F16", "BF16", "F32", "Q8_0")

# One part of a split GGUF ("...-00001-of-00003.gguf"): Ollama and mcv take one file per role.
_SPLIT_PART = re.compile(r"-\d{5}-of-\d{5}\.gguf$", re.IGNORECASE)


@dataclass(frozen=True)
class PickedFiles:
    """Paths inside the repo (or cached snapshot) of the chosen pair."""

    llm: str
    projector: str
    quant: str  # the LLM's label, upper case ("Q4_K_M")


def generation(generation_id: str | None) -> Generation:
    """The record for `generation_id` (default 2.5); InputError if unknown or refused."""
    from mcv.modelfile import generations

    record = generations.get(generation_id or DEFAULT_GENERATION)
    if not record.supported:
        raise InputError(record.refused or f"generation {record.id} is not supported")
    return record


def search_order(generation_id: str | None) -> list[Generation]:
    """The requested generation, else every supported one with the default first."""
    from mcv.modelfile import generations

    if generation_id is not None:
        return [generation(generation_id)]
    return sorted(generations.SUPPORTED, key=lambda g: g.id != DEFAULT_GENERATION)


def normalise_quant(quant: str) -> str:
    """A user's spelling of a label as names carry it: q4_k_m -> Q4_K_M, fp16 -> F16."""
    from mcv.modelfile.identify import quant_in_name

    return quant_in_name(quant) or quant.strip().upper()


def _basename(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _ggufs(files: Iterable[str]) -> list[str]:
    return sorted(f for f in files if f.lower().endswith(".gguf") and not _SPLIT_PART.search(f))


def _is_projector(path: str) -> bool:
    return "mmproj" in _basename(path).lower()


def llm_files_by_quant(files: Iterable[str]) -> dict[str, list[str]]:
    """{label: LLM files carrying it}; LLM GGUFs without a label in their name are left out."""
    from mcv.modelfile.identify import quant_in_name

    found: dict[str, list[str]] = {}
    for path in _ggufs(files):
        label = None if _is_projector(path) else quant_in_name(_basename(path))
        if label is not None:
            found.setdefault(label, []).append(path)
    return found


def quants_by_preference(files: Iterable[str]) -> list[str]:
    """The labels of the LLM files, the default quantisation first."""
    labels = sorted(llm_files_by_quant(files))
    return sorted(labels, key=lambda label: label != DEFAULT_QUANT)


def pick_projector(files: Iterable[str], where: str) -> str:
    from mcv.modelfile.identify import quant_in_name

    projectors = [f for f in _ggufs(files) if _is_projector(f)]
    if not projectors:
        raise BackendError(f"{where} has no projector GGUF (no file name contains 'mmproj')")

    def rank(path: str) -> int:
        label = quant_in_name(_basename(path))
        return PROJECTOR_PREFERENCE.index(label) if label in PROJECTOR_PREFERENCE else len(PROJECTOR_PREFERENCE)

    return min(projectors, key=rank)  # stable: ties keep name order


def pick_pair(files: Iterable[str], quant: str | None, where: str) -> PickedFiles:
    """The LLM of `quant` (default Q4_K_M) and the best projector among `files`.

    `where` names the listing in errors ("openbmb/MiniCPM-V-4.6-gguf", "the
    cached copy of ..."). A missing quantisation is the user's to fix
    (InputError listing what there is); a repo without a usable pair is not.
    """
    files = list(files)
    wanted = normalise_quant(quant or DEFAULT_QUANT)
    by_quant = llm_files_by_quant(files)
    if not by_quant:
        ggufs = ", ".join(_ggufs(files)) or "none"
        raise BackendError(
            f"{where} has no LLM GGUF with a quantisation in its name", hint=f"its GGUF files: {ggufs}"
        )
    candidates = by_quant.get(wanted)
    if candidates is None:
        raise InputError(
            f"{where} has no {quant or DEFAULT_QUANT} LLM GGUF",
            hint="it has: " + ", ".join(quants_by_preference(files)) + " (choose with --quant)",
        )
    if len(candidates) > 1:
        raise BackendError(
            f"{where} has several {wanted} LLM GGUFs: {', '.join(candidates)}",
            hint="download the one you want and package it with: mcv model create LLM MMPROJ",
        )
    return PickedFiles(candidates[0], pick_projector(files, where), wanted)
