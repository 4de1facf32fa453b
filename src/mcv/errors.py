"""Errors that reach the user as one line and a documented exit code.

Every failure the user can cause or fix is an `McvError`; anything else is a
bug. The CLI prints `mcv: <message>` (plus an optional hint line) and exits
with `exit_code`, never a traceback.
"""

from __future__ import annotations

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_BACKEND = 1  # model or server error
EXIT_USAGE = 2  # bad usage or bad input
EXIT_SOME_FAILED = 3  # a batch finished, but some of its items failed
EXIT_CANCELLED = 4  # a picker was cancelled (mcv snap: Esc): nothing captured, nothing asked
EXIT_INTERRUPTED = 130


def first_line(err: BaseException) -> str:
    """A library exception's message cut to one line, for our own messages."""
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0]


class McvError(Exception):
    """A failure to report to the user as one line (plus an optional hint)."""

    exit_code = EXIT_BACKEND
    # True when the same request may well succeed if sent again a little later
    # (a full queue, a dropped connection): batches retry these with backoff.
    transient = False

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(McvError):
    """The command line or configuration is wrong."""

    exit_code = EXIT_USAGE


class InputError(McvError):
    """An input (image, GGUF file, schema, ...) is unusable."""

    exit_code = EXIT_USAGE


class BackendError(McvError):
    """The model or the server failed."""

    exit_code = EXIT_BACKEND


class TransientError(BackendError):
    """The server turned the request away for now (HTTP 503: its queue is full)
    or the connection dropped mid-request."""

    transient = True


class ServerUnavailable(BackendError):
    """No daemon answers at the configured host."""


class ModelNotFound(BackendError):
    """The backend has no model of that name."""


class CapabilityError(BackendError):
    """The model lacks something the request needs (e.g. vision)."""


class StreamError(BackendError):
    """The server reported an error after the answer had started.

    `partial` holds the text already received so callers can keep it.
    """

    def __init__(self, message: str, *, partial: str = "", hint: str | None = None, transient: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.partial = partial
        self.transient = transient


class SchemaMismatch(BackendError):
    """The answer did not match the requested JSON schema (or length), even when asked again.

    `answer` is the raw text of the last attempt, which surfaces keep (stdout).
    """

    def __init__(self, message: str, *, answer: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.answer = answer
