"""Which engine answers a model: `--backend` given, or `auto`.

auto tries the registry's backends in order (Ollama, then in process) and
takes the first that HAS the model: the daemon must list it, a local pair
must be it (core/local_pairs.py). A model nobody has is an error that says
what was found where, not a quiet substitute.
"""

from __future__ import annotations

from mcv.core.backends import registry
from mcv.core.events import Route
from mcv.core.local_pairs import looks_like_path
from mcv.errors import BackendError, McvError, ModelNotFound, UsageError


def open_route(settings, model: str):
    """(Route, Backend) for `model`; the backend is the caller's to close."""
    choice = registry.check_choice(settings.backend)
    if choice != registry.AUTO:
        entry = registry.BACKENDS[choice]
        if looks_like_path(model) and not entry.runs_files:
            raise UsageError(
                f"'{model}' is a file: the {entry.name} backend runs models by name",
                hint="use --backend auto or llama for a GGUF pair, or package it with `mcv model create`",
            )
        backend = registry.open_backend(entry, settings, model)
        return _route(model, backend), backend
    return _auto(settings, model)


def _auto(settings, model: str):
    failures: list[McvError] = []
    for entry in registry.auto_order():
        if looks_like_path(model) and not entry.runs_files:
            continue
        try:
            backend = registry.open_backend(entry, settings, model)
        except BackendError as err:  # down, lacks the model, or failing: try the next one
            failures.append(err)
            continue
        except McvError as err:
            if not failures:
                raise  # bad input for the first engine is the user's to fix, whatever comes next
            failures.append(err)  # a broken local pair: worth saying, beside why the daemon did not answer
            continue
        fallback_from = failures[0].message if failures else None
        return _route(model, backend, fallback_from), backend
    raise _nobody_has(model, failures)


def _route(model: str, backend, fallback_from: str | None = None) -> Route:
    return Route(model=model, backend=backend.name, where=backend.where, pair=backend.pair, fallback_from=fallback_from)


def _nobody_has(model: str, failures: list[McvError]) -> McvError:
    """What the engines said, as one error of the first engine's kind.

    A daemon that answers knows best: its "no such model" (with its vision
    models) stands alone, unless a later engine found something broken. A
    daemon that does not answer is one reason among others, and each
    engine's way to get the model is worth offering.
    """
    first = failures[0]
    said = [first] + [f for f in failures[1:] if not (isinstance(first, ModelNotFound) and isinstance(f, ModelNotFound))]
    if len(said) == 1:
        return first
    message = ", and ".join(failure.message for failure in said)
    hints = "; or ".join(failure.hint for failure in said if failure.hint)
    return type(first)(message, hint=hints or None)
