"""Transport retries, owned by one layer: this one.

litellm's own ``num_retries`` stacks a retry wrapper on another retrying call (``n`` retries
sent ``2n + 1`` requests, and a 429's ``Retry-After`` was honoured on some re-sends and not
on others), and instructor re-asks only on schema errors. So the judge calls litellm with its
retries off and retries here: exponential backoff with jitter, ``Retry-After`` honoured (up to
a cap), and the true number of requests sent reported on failure.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["RetriesExhausted", "send_with_retries"]

T = TypeVar("T")
MAX_RETRY_AFTER = 60.0


class RetriesExhausted(Exception):
    """Every attempt failed in transport; ``attempts`` requests were sent."""

    def __init__(self, attempts: int, last: BaseException) -> None:
        super().__init__(f"{type(last).__name__} after {attempts} requests: {last}")
        self.attempts = attempts
        self.last = last


async def send_with_retries(
    send: Callable[[], Awaitable[T]],
    *,
    retries: int,
    is_transient: Callable[[BaseException], bool],
    retry_after: Callable[[BaseException], float | None],
    base_delay: float = 0.5,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``send()`` once, and again up to ``retries`` times after a transient failure. A failure
    that is not transient (bad request, bad credentials) is raised at once, unwrapped."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except Exception as exc:
            if not is_transient(exc):
                raise
            if attempt > retries:
                raise RetriesExhausted(attempt, exc) from exc
            await sleep(_delay(exc, attempt, base_delay, retry_after))


def _delay(
    exc: BaseException,
    attempt: int,
    base_delay: float,
    retry_after: Callable[[BaseException], float | None],
) -> float:
    asked = retry_after(exc)
    if asked is not None:
        return min(max(asked, 0.0), MAX_RETRY_AFTER)
    # Full jitter: spread the re-sends of many workers hit by the same outage.
    return random.uniform(0, base_delay * 2 ** (attempt - 1))
