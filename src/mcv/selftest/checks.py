"""What can run MiniCPM-V on this machine: the checks behind `mcv doctor`.

Each check yields `Check`s (ok / warn / fail + a short detail + an optional
hint). "warn" is something absent that another path can replace (Ollama not
running, llama-cpp-python not installed); "fail" is something present but
broken (a configured file that is not a pair, a llama.cpp that cannot run the
tiny self-test pair).

Healthy means: nothing failed, and at least one way to answer exists:
Ollama with a vision model, or llama-cpp-python passing the self-test plus a
local GGUF pair.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping

from mcv.core.ollama.client import START_HINT
from mcv.core.ollama.names import same_model
from mcv.errors import McvError

OK, WARN, FAIL = "ok", "warn", "fail"
MAX_MODELS_INSPECTED = 40  # /api/show per model; enough for any real store
SELFTEST_TIMEOUT_S = 120


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | fail
    detail: str
    hint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    checks: list[Check] = field(default_factory=list)
    ollama_ready: bool = False  # daemon up with a vision model
    llama_ready: bool = False  # self-test passed
    local_pair: bool = False

    @property
    def healthy(self) -> bool:
        if any(check.status == FAIL for check in self.checks):
            return False
        return self.ollama_ready or (self.llama_ready and self.local_pair)

    def summary(self) -> Check:
        ways = []
        if self.ollama_ready:
            ways.append("Ollama")
        if self.llama_ready and self.local_pair:
            ways.append("in process (llama.cpp)")
        if self.healthy:
            return Check("summary", OK, "MiniCPM-V can run here: " + " and ".join(ways))
        if ways:
            return Check("summary", FAIL, "a way to run exists (" + ", ".join(ways) + ") but a check above failed")
        if self.llama_ready:
            hint = "`mcv model fetch` (runs in process), or `ollama serve` then `mcv setup`"
        else:
            hint = "`ollama serve` then `mcv setup`, or `pip install 'mcv[local]'` and `mcv model fetch`"
        return Check("summary", FAIL, "no way to run MiniCPM-V yet", hint=hint)


# --- Ollama ------------------------------------------------------------------------


def check_ollama(host: str, model: str, environ: Mapping[str, str], report: Report) -> None:
    from mcv.core.ollama.client import OllamaClient

    with OllamaClient(host, environ=environ, timeout=10.0) as client:
        if not client.is_running():
            report.checks.append(Check("ollama", WARN, f"not running at {host}", hint=START_HINT))
            return
        try:
            version = client.version()
            vision = client.vision_models(limit=MAX_MODELS_INSPECTED)
        except McvError as err:
            report.checks.append(Check("ollama", FAIL, f"{host} answers but: {err.message}", hint=err.hint))
            return
        report.checks.append(Check("ollama", OK, f"version {version or '?'} at {host}"))
    if vision:
        wanted = any(same_model(model, name) for name in vision)
        detail = ", ".join(vision[:6]) + (f" (+{len(vision) - 6} more)" if len(vision) > 6 else "")
        hint = None if wanted else f"'{model}' is not among them: `mcv setup` or `ollama pull {model}`"
        report.checks.append(Check("ollama vision models", OK if wanted else WARN, detail, hint=hint))
        report.ollama_ready = True
    else:
        report.checks.append(Check("ollama vision models", WARN, "none installed", hint="`mcv setup` installs MiniCPM-V"))


# --- llama-cpp-python -----------------------------------------------------------------


def check_llama_cpp(report: Report) -> bool:
    """Is llama-cpp-python importable with mtmd? Returns True when the self-test can run."""
    try:
        import llama_cpp
    except ImportError:
        report.checks.append(
            Check("llama-cpp-python", WARN, "not installed (in-process backend off)", hint="pip install 'mcv[local]'")
        )
        return False
    except OSError as err:
        report.checks.append(Check("llama-cpp-python", FAIL, f"installed but its library cannot load: {err}"))
        return False
    gpu = "GPU offload" if llama_cpp.llama_supports_gpu_offload() else "CPU only"
    try:
        import llama_cpp.mtmd_cpp as mtmd_cpp

        mtmd = hasattr(mtmd_cpp, "mtmd_tokenize_from_parts") and hasattr(mtmd_cpp, "mtmd_helper_eval_chunk_single")
    except (ImportError, OSError):
        mtmd = False
    version = getattr(llama_cpp, "__version__", "?")
    if not mtmd:
        report.checks.append(
            Check(
                "llama-cpp-python",
                FAIL,
                f"{version} ({gpu}) has no usable mtmd (multimodal) library",
                hint="pip install 'llama-cpp-python>=0.3.36'",
            )
        )
        return False
    report.checks.append(Check("llama-cpp-python", OK, f"{version} ({gpu}, mtmd)"))
    return True


def check_selftest(environ: Mapping[str, str], report: Report) -> None:
    """The tiny-pair end-to-end run, in a child process (an abort must not kill the doctor)."""
    command = [sys.executable, "-m", "mcv.selftest.run"]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=SELFTEST_TIMEOUT_S, env=dict(environ), stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        report.checks.append(Check("self-test", FAIL, f"no answer within {SELFTEST_TIMEOUT_S} s"))
        return
    result = _last_json_line(done.stdout)
    if result is None:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        report.checks.append(Check("self-test", FAIL, f"crashed (exit {done.returncode}): {tail}"))
        return
    if result.get("ok"):
        report.checks.append(Check("self-test", OK, str(result.get("detail"))))
        report.llama_ready = True
    else:
        report.checks.append(Check("self-test", FAIL, str(result.get("detail"))))


def _last_json_line(text: str) -> dict | None:
    for line in reversed(text.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


# --- local GGUF pairs --------------------------------------------------------------------


def check_local_pairs(settings, model: str, report: Report) -> None:
    """Each place a local pair for `model` can come from (core/local_pairs.py), in the order `auto` tries them."""
    for source in settings.pair_sources:
        try:
            pair = source.find(model, settings.environ, settings.config)
        except McvError as err:
            report.checks.append(Check(f"pair: {source.name}", FAIL, err.message, hint=err.hint))
            continue
        if pair is None:
            continue
        try:
            generation = _identify(pair.llm, pair.projector)
        except McvError as err:
            report.checks.append(Check(f"pair: {source.name}", FAIL, f"{pair.llm.name} + {pair.projector.name}: {err.message}"))
            continue
        report.checks.append(Check(f"pair: {source.name}", OK, f"{generation.name}: {pair.llm} + {pair.projector.name}"))
        report.local_pair = True
    if not report.local_pair and not any(c.name.startswith("pair:") for c in report.checks):
        where = ", ".join(source.name for source in settings.pair_sources)
        report.checks.append(
            Check("local GGUF pair", WARN, f"none for '{model}' (looked in: {where})", hint="`mcv model fetch`, or -m PATH.gguf")
        )


def _identify(llm, projector):
    from mcv.modelfile.identify import validate_pair

    return validate_pair(llm, projector).generation


def run_checks(settings, *, selftest: bool = True) -> Report:
    """Every check, for the settings' model and Ollama host."""
    model = settings.config.get("model")
    report = Report()
    check_ollama(settings.ollama_host(), model, settings.environ, report)
    if check_llama_cpp(report) and selftest:
        check_selftest(settings.environ, report)
    check_local_pairs(settings, model, report)
    return report
