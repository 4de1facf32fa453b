"""Which Hugging Face files make a generation's pair, and the defaults.

The facts (repo, file names, quantisations) are the generation records'
(`mcv.modelfile.generations`); this module only picks among them.
"""

from __future__ import annotations

from typing import Iterator

from mcv.errors import InputError
from mcv.packaging.hf_fetch import HubPair

DEFAULT_GENERATION = "2.5"  # MiniCPM-Llama3-V 2.5: the model mcv is built around
DEFAULT_QUANT = "Q4_K_M"  # published for every generation; ~5 GB for the 8B ones


def _generation(generation_id: str):
    from mcv.modelfile import generations

    record = generations.get(generation_id)
    if not record.supported:
        raise InputError(record.refused or f"generation {generation_id} is not supported")
    return record


def _match_quant(record, quant: str) -> str:
    """The published label for `quant`, compared case-insensitively."""
    for label in record.quants:
        if label.lower() == quant.lower():
            return label
    raise InputError(
        f"{record.name} has no {quant} file on Hugging Face",
        hint="published: " + ", ".join(record.quants),
    )


def hub_pair(generation_id: str | None = None, quant: str | None = None) -> HubPair:
    """The pair to download for a generation and quantisation (defaults filled in)."""
    record = _generation(generation_id or DEFAULT_GENERATION)
    label = _match_quant(record, quant or _default_quant(record))
    return HubPair(record.id, label, record.hf_repo, record.llm_file(label), record.mmproj_file)


def _default_quant(record) -> str:
    for label in record.quants:
        if label.lower() == DEFAULT_QUANT.lower():
            return label
    return record.quants[0]


def candidates(generation_id: str | None = None, quant: str | None = None) -> Iterator[HubPair]:
    """Pairs worth looking for in the cache, most wanted first.

    Generation: the requested one, else the default then every supported one.
    Quantisation: the requested one only, else the default then the others.
    """
    from mcv.modelfile import generations

    if generation_id is not None:
        records = [_generation(generation_id)]
    else:
        records = sorted(generations.SUPPORTED, key=lambda g: g.id != DEFAULT_GENERATION)
    for record in records:
        if quant is not None:
            try:
                labels = [_match_quant(record, quant)]
            except InputError:
                if generation_id is not None:
                    raise
                continue
        else:
            first = _default_quant(record)
            labels = [first, *(q for q in record.quants if q != first)]
        for label in labels:
            yield HubPair(record.id, label, record.hf_repo, record.llm_file(label), record.mmproj_file)
