"""One exception tree for the whole package.

Every error says what went wrong, where, and (where it can) how to fix it. Lower-level errors
(pydantic, YAML, litellm, instructor) are translated into these at the module that meets them.
This module imports nothing from the package so every other module can import it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = [
    "DefinitionError",
    "EvaluatorError",
    "JudgeBudgetError",
    "JudgeError",
    "JudgeOutputError",
    "JudgeUnavailableError",
    "OfflineModelError",
    "PromptError",
    "RequestValidationError",
    "TranscriptFormatError",
    "UnknownIdError",
    "did_you_mean",
]


class EvaluatorError(Exception):
    """Base class of every error this package raises on purpose.

    It crosses process boundaries whole (the service's process pool, Celery): pickling an
    exception calls its class again with ``args``, which for a subclass whose ``__init__``
    takes other arguments fails or garbles the message; here it is rebuilt from its
    message and attributes instead."""

    def __reduce__(self) -> tuple[Any, ...]:
        return _rebuilt, (type(self), self.args, self.__dict__)


def _rebuilt(cls: type[EvaluatorError], args: tuple[Any, ...], state: dict[str, Any]) -> Any:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


def did_you_mean(wanted: str, known: Iterable[str]) -> str:
    """A ` (did you mean 'x'?)` hint, or a list of what exists when nothing is close."""
    known_list = sorted(known)
    close = difflib.get_close_matches(wanted, known_list, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if not known_list:
        return " (none are defined)"
    shown = ", ".join(known_list[:12]) + (", ..." if len(known_list) > 12 else "")
    return f" (known: {shown})"


class RequestValidationError(EvaluatorError):
    """An observe request that does not satisfy the contract.

    ``errors`` is the field-keyed body of the spec: ``{"field": ["message", ...]}``.
    """

    def __init__(self, errors: Mapping[str, list[str]]) -> None:
        self.errors: dict[str, list[str]] = {k: list(v) for k, v in errors.items()}
        lines = [f"{field}: {msg}" for field, msgs in self.errors.items() for msg in msgs]
        super().__init__("invalid request: " + "; ".join(lines))


class TranscriptFormatError(EvaluatorError):
    """A transcript payload that does not fit its declared provider format.

    ``path`` locates the offending value, e.g. ``messages[3].role``.
    """

    def __init__(
        self,
        provider: str,
        path: str,
        expected: str,
        received: Any = None,
        *,
        show_received: bool = True,
        message: str | None = None,
    ) -> None:
        self.provider = provider
        self.path = path
        self.expected = expected
        self.received = received
        if message is None:
            got = f"; got {_short_repr(received)}" if show_received else ""
            where = f"{path}: " if path else ""
            message = f"{provider}: {where}expected {expected}{got}"
        super().__init__(message)


def _short_repr(value: Any) -> str:
    if isinstance(value, str):
        text = '"' + value + '"'
    elif value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, dict):
        text = "an object"
    elif isinstance(value, list):
        text = f"a list of {len(value)}"
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class DefinitionError(EvaluatorError):
    """A metric, agent or prompt definition file that is invalid. Names file and field."""

    def __init__(self, path: str, message: str, field: str | None = None) -> None:
        self.path = path
        self.field = field
        self.message = message
        where = f"{path}: {field}: " if field else f"{path}: "
        super().__init__(where + message)


class UnknownIdError(EvaluatorError):
    """A metric or agent id that is not defined; the message says what is."""

    def __init__(self, kind: str, wanted: str, known: Iterable[str]) -> None:
        self.kind = kind
        self.wanted = wanted
        super().__init__(f"unknown {kind} {wanted!r}{did_you_mean(wanted, known)}")


class PromptError(EvaluatorError):
    """A prompt template that failed to render (missing variable, syntax, sandbox)."""


class JudgeError(EvaluatorError):
    """The judge could not give a schema-valid answer. Never turned into a score."""

    def __init__(self, model: str, reason: str, raw_completion: str | None = None) -> None:
        self.model = model
        self.reason = reason
        self.raw_completion = raw_completion
        super().__init__(f"judge {model}: {reason}")


class JudgeUnavailableError(JudgeError):
    """Transport failure after retries: timeout, rate limit, server error, bad credentials."""


class JudgeOutputError(JudgeError):
    """The model answered, but not in the required schema, even after re-asking."""


class JudgeBudgetError(JudgeError):
    """The call's judge requests would exceed its token budget; nothing was sent."""


class OfflineModelError(EvaluatorError):
    """The bundled offline model is not installed or its server did not start."""
