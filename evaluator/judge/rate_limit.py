"""Staying within a provider's limits: one limiter shared by every worker of a run.

Requests per minute and tokens per minute are each a token bucket, kept as a generic cell
rate (GCRA): every caller reserves its share in arrival order and sleeps until it is due, so
there is no polling and no thundering herd. A 429 (``rate limited``) pauses everyone for its
``Retry-After`` and halves the rate; each success afterwards wins back a step of it, until
the configured rate is reached again. Time comes from a ``Clock`` so tests use a fake one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Protocol

from evaluator.errors import JudgeUnavailableError
from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest

__all__ = [
    "Clock",
    "InFlightLimitedJudge",
    "Limiter",
    "MonotonicClock",
    "RateLimitedJudge",
    "RateLimiter",
    "estimate_tokens",
    "retry_after_of",
]


class Clock(Protocol):
    """Seconds since an arbitrary start, and a way to wait."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class MonotonicClock:
    """The real clock."""

    def now(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class Limiter(Protocol):
    """What ``RateLimitedJudge`` needs: this process's ``RateLimiter``, or the one every
    worker shares (``shared_limits.SharedRateLimiter``)."""

    async def acquire(self, tokens: int) -> None: ...

    def settle(self, estimated: int, actual: int) -> None: ...

    def rate_limited(self, retry_after: float | None) -> None: ...

    def succeeded(self) -> None: ...


@dataclass
class _Cell:
    """One bucket: ``per_minute`` units, a burst of ``burst_seconds`` worth of them."""

    per_minute: float
    burst_seconds: float
    factor: float = 1.0  # the share of the configured rate in force (lowered after a 429)
    tat: float = 0.0  # theoretical arrival time of the next unit

    def interval(self) -> float:
        return 60.0 / (self.per_minute * self.factor)

    def reserve(self, now: float, cost: float) -> float:
        """Take ``cost`` units; returns when the taker may go (``now`` or later)."""
        tolerance = self.burst_seconds
        start = max(self.tat, now)
        due = max(now, start - tolerance)
        self.tat = start + cost * self.interval()
        return due

    def refund(self, cost: float) -> None:
        self.tat -= cost * self.interval()


@dataclass
class RateLimiter:
    """Requests and tokens per minute (``None`` = unlimited), shared by all workers.

    ``acquire`` waits for a request's turn; ``settle`` corrects the token estimate with what
    was really used; ``rate_limited`` (a 429) pauses everyone and halves the rate;
    ``succeeded`` recovers it by ``recover_step`` per success."""

    rpm: float | None = None
    tpm: float | None = None
    clock: Clock = field(default_factory=MonotonicClock)
    burst_seconds: float = 1.0
    min_factor: float = 1 / 16
    recover_step: float = 0.05
    paused_until: float = 0.0
    throttled: int = 0
    _cells: dict[str, _Cell] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, rate in (("requests", self.rpm), ("tokens", self.tpm)):
            if rate is not None:
                if rate <= 0:
                    raise ValueError(f"{name} per minute must be positive, got {rate}")
                self._cells[name] = _Cell(rate, self.burst_seconds)

    @property
    def factor(self) -> float:
        """The share of the configured rate now in force (1.0 = full speed)."""
        return min((c.factor for c in self._cells.values()), default=1.0)

    def reserve(self, tokens: int) -> float:
        """Reserve one request of ``tokens``; returns the time it may be sent."""
        now = self.clock.now()
        due = max(now, self.paused_until)
        for name, cell in self._cells.items():
            cost = 1.0 if name == "requests" else float(tokens)
            due = max(due, cell.reserve(due, cost))
        return due

    async def acquire(self, tokens: int) -> None:
        """Wait until a request of about ``tokens`` tokens may be sent."""
        due = self.reserve(tokens)
        while True:
            wait = max(due, self.paused_until) - self.clock.now()
            if wait <= 0:
                return
            await self.clock.sleep(wait)

    def settle(self, estimated: int, actual: int) -> None:
        """Charge (or refund) the difference between estimated and real tokens."""
        cell = self._cells.get("tokens")
        if cell is not None and actual != estimated:
            cell.refund(float(estimated - actual))

    def rate_limited(self, retry_after: float | None) -> None:
        """The provider said 429: everyone waits ``retry_after`` (or a second), at half rate."""
        self.throttled += 1
        now = self.clock.now()
        self.paused_until = max(self.paused_until, now + (retry_after or 1.0))
        for cell in self._cells.values():
            cell.factor = max(self.min_factor, cell.factor / 2)
            cell.tat = max(cell.tat, self.paused_until)

    def succeeded(self) -> None:
        """One more request went through: win back part of the rate."""
        for cell in self._cells.values():
            cell.factor = min(1.0, cell.factor + self.recover_step)


def estimate_tokens(request: JudgeRequest, completion_tokens: int = 256) -> int:
    """About four characters a token: the messages, the schema, and an answer's worth."""
    chars = sum(len(m.get("content", "")) for m in request.messages)
    return chars // 4 + completion_tokens


def retry_after_of(exc: BaseException) -> tuple[bool, float | None]:
    """Whether an error (or one it was raised from) is a 429, and its ``Retry-After``."""
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if getattr(current, "status_code", None) == 429 or type(current).__name__ == (
            "RateLimitError"
        ):
            return True, _retry_after_header(current)
        stack.extend(e for e in (current.__cause__, current.__context__) if e is not None)
        for attempt in getattr(current, "failed_attempts", None) or ():
            inner = getattr(attempt, "exception", None)
            if isinstance(inner, BaseException):
                stack.append(inner)
    return False, None


def _retry_after_header(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except (TypeError, ValueError):
        return None


@dataclass
class RateLimitedJudge:
    """A judge whose requests wait their turn in a shared ``RateLimiter``.

    A 429 is retried here (up to ``max_tries``) after the pause it asks for, so the whole run
    slows down together instead of each request backing off on its own; give the wrapped
    judge no transport retries of its own for that to work."""

    judge: Judge
    limiter: Limiter
    max_tries: int = 8

    @property
    def model(self) -> str:
        return self.judge.model

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        estimated = estimate_tokens(request)
        for attempt in range(1, self.max_tries + 1):
            await self.limiter.acquire(estimated)
            try:
                answer = await self.judge.answer(request)
            except JudgeUnavailableError as exc:
                limited, retry_after = retry_after_of(exc)
                self.limiter.settle(estimated, 0)
                if not limited or attempt == self.max_tries:
                    raise
                self.limiter.rate_limited(retry_after)
                continue
            used = answer.usage.prompt_tokens + answer.usage.completion_tokens
            self.limiter.settle(estimated, used or estimated)
            self.limiter.succeeded()
            return answer
        raise JudgeUnavailableError(self.model, f"rate limited {self.max_tries} times")


@dataclass
class InFlightLimitedJudge:
    """At most ``limit`` requests in flight at the model, however many calls are being
    prepared or stored around them: the run's concurrency is what the provider sees, and a
    call waiting on the database does not hold a request slot idle. ``slots``: a semaphore
    shared with other judges (a Celery worker's tasks share the process's slots)."""

    judge: Judge
    limit: int
    slots: asyncio.Semaphore | None = field(default=None, repr=False)
    _slots: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = self.slots if self.slots is not None else asyncio.Semaphore(self.limit)

    @property
    def model(self) -> str:
        return self.judge.model

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        async with self._slots:
            return await self.judge.answer(request)
