"""What the server sent back, as the judge reads it: each response with its usage and price
as it arrived, its text, and a refusal's ``Retry-After``. Plain reading of the objects
litellm returns; what needs litellm itself (pricing, its error types) stays in
``litellm_judge``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "Reply",
    "first_line",
    "retry_after",
    "text_of",
]


@dataclass(frozen=True)
class Reply:
    """One response of the server, with the usage it reported and its price, read the moment
    it arrived. Read later they would be wrong: on every re-ask instructor rewrites the
    response's ``usage`` in place to the running total of the attempts so far, so summing
    the responses' usage afterwards counts the first attempts again and again."""

    response: Any
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None

    @classmethod
    def of(cls, response: Any, cost_usd: float | None) -> Reply:
        counted = getattr(response, "usage", None)
        return cls(
            response=response,
            prompt_tokens=int(getattr(counted, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(counted, "completion_tokens", 0) or 0),
            cost_usd=cost_usd,
        )


def retry_after(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` in seconds (the delta form), if it sent one."""
    headers = getattr(exc, "headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    value = None
    if headers is not None:
        try:
            value = headers.get("retry-after") or headers.get("Retry-After")
        except AttributeError:
            value = None
    try:
        return float(value) if value is not None else None
    except ValueError:  # an HTTP date: rare from model APIs; fall back to backoff
        return None


def text_of(response: Any) -> str | None:
    try:
        message = response.choices[0].message
    except (AttributeError, IndexError):
        return None
    if getattr(message, "content", None):
        return str(message.content)
    calls = getattr(message, "tool_calls", None)
    if calls:
        return str(calls[0].function.arguments)
    return None


def first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
