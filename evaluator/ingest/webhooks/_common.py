"""What every provider's webhook reader returns, and the small readers they share."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evaluator.errors import RequestValidationError

_VARIABLE = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class WebhookCall:
    """A finished call: observe-request fields (no agent yet) and the provider's assistant."""

    request: dict[str, Any]
    assistant_id: str | None = None
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Ignored:
    """An event that is not a finished call (acknowledged with 200, nothing stored)."""

    reason: str


def obj(value: Any) -> dict[str, Any]:
    """A nested object, or an empty one when absent or not an object."""
    return value if isinstance(value, dict) else {}


def text(*values: Any) -> str | None:
    """The first non-empty string (numbers as text), else None."""
    for value in values:
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    return None


def required_id(provider: str, value: str | None, where: str) -> str:
    if value is None:
        raise RequestValidationError({"call_id": [f"{provider}: {where} is missing"]})
    return value[:100]


def epoch_time(value: Any) -> str | None:
    """An epoch time (seconds, or milliseconds past 1e11) or an ISO string, as ISO 8601."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC).isoformat()
    return None


def variables(values: Any) -> tuple[dict[str, Any], list[str]]:
    """Dynamic variables usable in a prompt (names of letters, digits and _); the others
    named in notes."""
    kept, dropped = {}, []
    for name, value in obj(values).items():
        if _VARIABLE.match(str(name)):
            kept[str(name)] = value
        else:
            dropped.append(f"dynamic variable {name!r} ignored: not a usable name")
    return kept, dropped


def compact(request: dict[str, Any]) -> dict[str, Any]:
    """Fields with no value left out (the request's defaults apply)."""
    return {k: v for k, v in request.items() if v not in (None, {}, "")}
