"""Classify GGUF files, identify the MiniCPM-V generation, validate an LLM+mmproj pair.

API (stable):
    classify(meta) -> "llm" | "projector" | "adapter"     exactly as Ollama's create does
    identify_generation(llm_meta, projector_meta) -> Generation
    validate_pair(path_a, path_b) -> Pair                 order of the two paths does not matter
    find_pair_in_dir(directory) -> (llm_path, projector_path)
    find_partner(path) -> (llm_path, projector_path)   one GGUF + what lies beside it
    quant_label(meta) -> str | None                       "Q4_K_M", "F16", ... (file_type, then name)
    quant_in_name(name) -> str | None                     the label in a file name ("FP16" -> "F16")
    projector_output_width(meta) -> int | None            width the projector feeds the LLM
    Pair          frozen dataclass: llm, projector (Paths), llm_meta, projector_meta,
                  generation, quant (str | None), n_embd (int)

Every problem is an InputError with one line naming the file(s) concerned.
Identification is table-driven (generations.py); the rules follow llama.cpp:
  1. mmproj clip.projector_type: "resampler" (2.x-4.5) or "minicpmv4_6" (4.6);
  2. clip.minicpmv_version (int32; missing -> 2, as clip.cpp does);
  3. the LLM architecture decides when the version is shared (6: V 4.5 with
     qwen3 vs MiniCPM-o 4.0) and must agree with the projector otherwise;
  4. the LLM width must equal the projector's output width (mtmd refuses a
     mismatch at load time). The width in the generation record is not
     enforced: it describes the published model, and tiny test pairs (or
     re-trained variants) legitimately differ; the pair's own agreement is
     what llama.cpp needs.
Also refused: a clip.minicpmv_version stored with a type other than int32
(llama.cpp aborts on it) and files whose tensor data is cut short.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mcv.errors import InputError
from mcv.modelfile import generations
from mcv.modelfile.generations import Generation
from mcv.modelfile.gguf_meta import GGUFMeta, ValueType, read_metadata

LLM, PROJECTOR, ADAPTER = "llm", "projector", "adapter"

# llama_ftype (llama.h) -> label; bit 1024 is LLAMA_FTYPE_GUESSED.
FILE_TYPES: dict[int, str] = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
    10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
    16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
    22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
    28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
    37: "TQ2_0", 38: "MXFP4_MOE", 39: "NVFP4", 40: "Q1_0",
}
_FTYPE_GUESSED = 1024
_QUANT_IN_NAME = re.compile(
    r"(?<![A-Za-z0-9])(I?Q\d_K_[SMLX]L?|I?Q\d_K|IQ\d_(?:XXS|XS|S|M|NL)|Q\d_\d|BF16|F16|F32|FP16)(?![A-Za-z0-9])",
    re.IGNORECASE,
)

# Versions seen in the wild that mcv has no record for, to name them in errors.
_KNOWN_UNSUPPORTED_VERSIONS = {100045: "MiniCPM-o 4.5"}


@dataclass(frozen=True, eq=False)
class Pair:
    llm: Path
    projector: Path
    llm_meta: GGUFMeta
    projector_meta: GGUFMeta
    generation: Generation
    quant: str | None
    n_embd: int


# --- classification (server/create.go isProjectorGGUF) -------------------------


def _uint32(meta: GGUFMeta, key: str) -> int:
    """Ollama's kv.Uint: the value only if the key is stored as uint32, else 0."""
    if meta.kv_types.get(key, (None, None))[0] == ValueType.UINT32:
        return meta.kv[key]
    return 0


def _bool(meta: GGUFMeta, key: str) -> bool:
    return meta.kv_types.get(key, (None, None))[0] == ValueType.BOOL and bool(meta.kv[key])


def _string(meta: GGUFMeta, key: str, default: str = "") -> str:
    if meta.kv_types.get(key, (None, None))[0] == ValueType.STRING:
        return meta.kv[key]
    return default


def classify(meta: GGUFMeta) -> str:
    """"adapter", "projector" or "llm", with Ollama's rules and key types."""
    kind = _string(meta, "general.type", "unknown")
    if kind == "adapter":
        return ADAPTER
    if kind in ("projector", "mmproj"):
        return PROJECTOR
    arch = _string(meta, "general.architecture", "unknown")
    if _uint32(meta, f"{arch}.block_count") == 0 and _uint32(meta, f"{arch}.vision.block_count") > 0:
        return PROJECTOR
    if (
        arch == "clip"
        and _uint32(meta, "clip.block_count") == 0
        and (_bool(meta, "clip.has_vision_encoder") or _bool(meta, "clip.has_audio_encoder"))
    ):
        return PROJECTOR
    return LLM


# --- facts -------------------------------------------------------------------


def quant_label(meta: GGUFMeta) -> str | None:
    """Quantisation from general.file_type, else from the file name."""
    ftype = meta.get("general.file_type")
    if isinstance(ftype, int) and not isinstance(ftype, bool):
        label = FILE_TYPES.get(ftype & ~_FTYPE_GUESSED)
        if label:
            return label
    return quant_in_name(meta.path.name)


def quant_in_name(name: str) -> str | None:
    """The quantisation label a file name carries ("Q4_K_M", "F16"), upper case; None if none."""
    match = _QUANT_IN_NAME.search(name)
    if match:
        label = match.group(1).upper()
        return "F16" if label == "FP16" else label
    return None


def llm_width(meta: GGUFMeta) -> int | None:
    arch = meta.architecture
    value = meta.get(f"{arch}.embedding_length") if arch else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def projector_output_width(meta: GGUFMeta) -> int | None:
    """Embedding width the projector produces (what mtmd compares with the LLM).

    resampler: ne[0] of resampler.proj.weight (clip.cpp clip_n_mmproj_embd);
    minicpmv4_6: ne[1] of mm.down.weight.
    """
    ptype = _string(meta, "clip.projector_type")
    if ptype == "resampler":
        t = meta.tensor("resampler.proj.weight")
        return t.shape[0] if t and t.shape else None
    if ptype == "minicpmv4_6":
        t = meta.tensor("mm.down.weight")
        return t.shape[1] if t and len(t.shape) > 1 else None
    return None


# --- identification ----------------------------------------------------------


def identify_generation(llm_meta: GGUFMeta, projector_meta: GGUFMeta) -> Generation:
    llm, proj = llm_meta.path, projector_meta.path
    ptype = _string(projector_meta, "clip.projector_type")
    if not ptype:
        raise InputError(f"{proj}: projector has no clip.projector_type; not a MiniCPM-V mmproj")
    if ptype not in {g.projector_type for g in generations.GENERATIONS}:
        raise InputError(f"{proj}: projector type {ptype!r} is not MiniCPM-V (expected resampler or minicpmv4_6)")

    version: int | None = None
    if ptype == "resampler":
        kind = projector_meta.kv_types.get("clip.minicpmv_version", (None, None))[0]
        if kind is None:
            version = 2  # clip.cpp: a resampler without the key is MiniCPM-Llama3-V 2.5
        elif kind != ValueType.INT32:
            raise InputError(
                f"{proj}: clip.minicpmv_version is stored as {kind.name.lower()}; "
                "llama.cpp requires int32 and would abort on this file"
            )
        else:
            version = projector_meta.kv["clip.minicpmv_version"]

    candidates = generations.by_projector(ptype, version)
    if not candidates:
        known = _KNOWN_UNSUPPORTED_VERSIONS.get(version)
        what = f"{known} (clip.minicpmv_version {version})" if known else f"clip.minicpmv_version {version}"
        raise InputError(f"{proj}: unknown MiniCPM-V generation: {what} is not supported by mcv")

    arch = llm_meta.architecture or "unknown"
    matches = [g for g in candidates if g.llm_arch == arch]
    if not matches:
        expected = " or ".join(sorted({g.llm_arch for g in candidates}))
        who = "/".join(g.name for g in candidates)
        if version == 6:
            raise InputError(
                f"{llm}, {proj}: projector version 6 with a {arch!r} LLM is not MiniCPM-V 4.5 "
                "(qwen3); MiniCPM-o 4.0 also uses version 6 and is not supported"
            )
        defaulted = " (it has no clip.minicpmv_version, which llama.cpp reads as 2)" if (
            ptype == "resampler" and "clip.minicpmv_version" not in projector_meta.kv
        ) else ""
        raise InputError(
            f"{llm}, {proj}: the projector is {who}{defaulted} but the LLM architecture is {arch!r} "
            f"(expected {expected}); these files do not belong together"
        )
    gen = matches[0]
    if gen.refused:
        raise InputError(f"{llm}, {proj}: {gen.refused}")
    return gen


def validate_pair(path_a: str | Path, path_b: str | Path) -> Pair:
    """Check two files form a usable MiniCPM-V pair; either order is accepted."""
    a, b = Path(path_a), Path(path_b)
    if a.resolve() == b.resolve():
        raise InputError(f"{a}: the same file was given twice; need an LLM and its mmproj")
    meta_a, meta_b = read_metadata(a), read_metadata(b)
    role_a, role_b = classify(meta_a), classify(meta_b)
    for meta, role in ((meta_a, role_a), (meta_b, role_b)):
        if role == ADAPTER:
            raise InputError(f"{meta.path}: is a LoRA adapter, not an LLM or a projector")
    if role_a == role_b == LLM:
        raise InputError(f"{a}, {b}: both files are LLMs; one must be the mmproj (vision projector)")
    if role_a == role_b == PROJECTOR:
        raise InputError(f"{a}, {b}: both files are projectors (mmproj); one must be the LLM")
    llm_meta, proj_meta = (meta_a, meta_b) if role_a == LLM else (meta_b, meta_a)
    for meta in (llm_meta, proj_meta):
        _check_complete(meta)

    gen = identify_generation(llm_meta, proj_meta)
    n_embd = llm_width(llm_meta)
    if n_embd is None:
        raise InputError(f"{llm_meta.path}: LLM has no {llm_meta.architecture}.embedding_length")
    out = projector_output_width(proj_meta)
    if out is None:
        raise InputError(f"{proj_meta.path}: projector lacks its output tensor (resampler.proj / mm.down)")
    if out != n_embd:
        raise InputError(
            f"{llm_meta.path}, {proj_meta.path}: LLM width {n_embd} does not match the projector "
            f"output width {out}; these files do not belong together"
        )
    return Pair(llm_meta.path, proj_meta.path, llm_meta, proj_meta, gen, quant_label(llm_meta), n_embd)


def _check_complete(meta: GGUFMeta) -> None:
    end = meta.data_end
    if end is not None and end > meta.file_size:
        raise InputError(
            f"{meta.path}: truncated: tensor data needs {end} bytes but the file has {meta.file_size} "
            "(incomplete download?)"
        )


def find_partner(path: str | Path) -> tuple[Path, Path]:
    """(LLM, projector) for one GGUF file and what lies beside it.

    An LLM takes the projector of its folder (among several, the only one
    that makes a valid pair with it); a projector takes the folder's only
    LLM. A folder with several quantisations of one model is the usual case
    after fetching two of them, so naming the LLM is always enough.
    """
    path = Path(path)
    directory = path.parent
    role = classify(read_metadata(path, tensors=False))
    if role == ADAPTER:
        raise InputError(f"{path}: an adapter, not an LLM or a projector")
    others = [
        p for p in sorted(directory.iterdir())
        if p.suffix.lower() == ".gguf" and p.is_file() and p.resolve() != path.resolve()
    ]
    wanted = PROJECTOR if role == LLM else LLM
    partners, unreadable = [], []
    for other in others:
        try:
            other_role = classify(read_metadata(other, tensors=False))
        except InputError:  # a partial download or another file beside the pair is not a candidate
            unreadable.append(other.name)
            continue
        if other_role == wanted:
            partners.append(other)
    if not partners:
        skipped = f" (not readable as GGUF: {', '.join(unreadable)})" if unreadable else ""
        raise InputError(f"{path}: no {'projector (mmproj)' if wanted == PROJECTOR else 'LLM'} .gguf beside it{skipped}")
    if role == PROJECTOR and len(partners) > 1:
        names = ", ".join(p.name for p in partners)
        raise InputError(f"{path}: several LLMs beside this projector ({names})", hint="name the LLM file instead")
    fitting = []
    for partner in partners:
        try:
            fitting.append(validate_pair(path, partner))
        except InputError:
            if len(partners) == 1:
                raise
    if len(fitting) != 1:
        names = ", ".join(p.name for p in partners)
        raise InputError(f"{path}: {'no' if not fitting else 'more than one'} projector beside it fits ({names})")
    return fitting[0].llm, fitting[0].projector


def find_pair_in_dir(directory: str | Path) -> tuple[Path, Path]:
    """The (LLM, projector) GGUFs in `directory`; exactly one of each is expected."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"{directory}: not a directory")
    files = sorted(p for p in directory.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
    if not files:
        raise InputError(f"{directory}: no .gguf files found")
    roles: dict[str, list[Path]] = {LLM: [], PROJECTOR: [], ADAPTER: []}
    for path in files:
        roles[classify(read_metadata(path, tensors=False))].append(path)
    llms, projectors = roles[LLM], roles[PROJECTOR]
    if not projectors:
        raise InputError(f"{directory}: no projector (mmproj) .gguf found next to the LLM")
    if not llms:
        raise InputError(f"{directory}: no LLM .gguf found next to the projector")
    if len(projectors) > 1:
        names = ", ".join(p.name for p in projectors)
        raise InputError(f"{directory}: several projectors ({names})", hint="name the two files instead")
    if len(llms) > 1:
        names = ", ".join(p.name for p in llms)
        raise InputError(f"{directory}: several LLM files ({names})", hint="name the two files instead")
    return llms[0], projectors[0]
