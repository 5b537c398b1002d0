"""One rate limit for every worker on every machine, kept in Redis.

The same rules as ``rate_limit.RateLimiter`` (a generic cell rate per bucket, a 429 pausing
everyone for its ``Retry-After`` at half rate, then recovering step by step), but the state
lives in Redis and each change is one Lua script, atomic across processes, timed by the Redis
server's clock (so machines' clocks need not agree):

- ``reserve``: a request's turn for requests/min and tokens/min. Besides the cell rate's
  spacing, the last ``rpm`` turns are kept, and a turn is never within 60 s (and a margin
  for the request's own delay) of the turn ``rpm`` places before it: no 60 s window ever
  holds more than ``rpm`` requests. Within that, the cell rate lets a second's worth of
  requests go at once after a quiet spell (at most twice ``rpm / 60`` in one second).
- ``rate_limited`` / ``succeeded`` / ``settle``: a 429, a success, the real token count.
- ``SharedInFlight``: at most ``limit`` requests in flight across all workers (a sorted set
  of holders, each expiring after ``hold_seconds`` so a killed worker's slot comes back).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import redis

from evaluator.judge.schema import Judge, JudgeAnswer, JudgeRequest

__all__ = ["SharedInFlight", "SharedInFlightJudge", "SharedRateLimiter"]

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""

# KEYS: requests cell, tokens cell, state hash, requests log.
# ARGV: rpm, tpm, tokens, burst, window (60 s and the margin).
_RESERVE = (
    _NOW
    + """
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
local cost, burst, window = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local factor = tonumber(redis.call('HGET', KEYS[3], 'factor') or '1')
local due = math.max(now, tonumber(redis.call('HGET', KEYS[3], 'paused_until') or '0'))
local function reserve(key, per_minute, units)
  local interval = 60.0 / (per_minute * factor)
  local start = math.max(tonumber(redis.call('GET', key) or '0'), due)
  redis.call('SET', key, tostring(start + units * interval), 'EX', 3600)
  return math.max(due, start - burst)
end
if rpm > 0 then
  due = math.max(due, reserve(KEYS[1], rpm, 1))
  local last = tonumber(redis.call('LINDEX', KEYS[4], -1) or '0')
  due = math.max(due, last)
  if redis.call('LLEN', KEYS[4]) >= rpm then
    due = math.max(due, tonumber(redis.call('LINDEX', KEYS[4], 0)) + window)
  end
  redis.call('RPUSH', KEYS[4], tostring(due))
  redis.call('LTRIM', KEYS[4], -rpm, -1)
  redis.call('EXPIRE', KEYS[4], 3600)
end
if tpm > 0 then due = math.max(due, reserve(KEYS[2], tpm, cost)) end
return tostring(due - now)
"""
)

# KEYS: requests cell, tokens cell, state hash. ARGV: retry_after, min_factor.
_LIMITED = (
    _NOW
    + """
local paused = tonumber(redis.call('HGET', KEYS[3], 'paused_until') or '0')
paused = math.max(paused, now + tonumber(ARGV[1]))
local factor = tonumber(redis.call('HGET', KEYS[3], 'factor') or '1')
factor = math.max(tonumber(ARGV[2]), factor / 2)
redis.call('HSET', KEYS[3], 'paused_until', tostring(paused), 'factor', tostring(factor))
redis.call('HINCRBY', KEYS[3], 'throttled', 1)
redis.call('EXPIRE', KEYS[3], 3600)
for i = 1, 2 do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  redis.call('SET', KEYS[i], tostring(math.max(tat, paused)), 'EX', 3600)
end
return tostring(factor)
"""
)

# KEYS: state hash. ARGV: step.
_SUCCEEDED = """
local factor = tonumber(redis.call('HGET', KEYS[1], 'factor') or '1')
if factor < 1 then
  redis.call('HSET', KEYS[1], 'factor', tostring(math.min(1, factor + tonumber(ARGV[1]))))
end
return 1
"""

# KEYS: tokens cell, state hash. ARGV: tokens to give back (negative: charge), tpm.
_SETTLE = """
local factor = tonumber(redis.call('HGET', KEYS[2], 'factor') or '1')
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local back = tonumber(ARGV[1]) * 60.0 / (tonumber(ARGV[2]) * factor)
redis.call('SET', KEYS[1], tostring(tat - back), 'EX', 3600)
return 1
"""

# KEYS: holders. ARGV: limit, hold seconds, token.
_ENTER = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('EXPIRE', KEYS[1], 3600)
  return 1
end
return 0
"""
)


def _client(url: str) -> Any:
    return redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=5.0)


@dataclass
class SharedRateLimiter:
    """Requests and tokens per minute for every worker that uses the same Redis ``url`` and
    ``key`` (``None`` = unlimited); the interface of ``rate_limit.RateLimiter``."""

    url: str
    key: str
    rpm: float | None = None
    tpm: float | None = None
    burst_seconds: float = 1.0
    # A request reaches the provider a little after its turn (later when its process is
    # busy): turns ``rpm`` apart are kept 60 s and this much apart, so that the requests
    # themselves, not only their turns, never put more than ``rpm`` in a 60 s window.
    window_margin: float = 2.0
    min_factor: float = 1 / 16
    recover_step: float = 0.05
    _redis: Any = field(init=False, repr=False)
    _scripts: dict[str, Any] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        for name, rate in (("requests", self.rpm), ("tokens", self.tpm)):
            if rate is not None and rate <= 0:
                raise ValueError(f"{name} per minute must be positive, got {rate}")
        self._redis = _client(self.url)
        self._scripts = {name: self._redis.register_script(text) for name, text in (
            ("reserve", _RESERVE), ("limited", _LIMITED), ("succeeded", _SUCCEEDED),
            ("settle", _SETTLE))}  # fmt: skip

    def _keys(self, *names: str) -> list[str]:
        return [f"{self.key}:{name}" for name in names]

    def reserve(self, tokens: int) -> float:
        """Reserve one request of ``tokens``; returns the seconds to wait before sending."""
        keys = self._keys("requests", "tokens", "state", "log")
        args = [self.rpm or 0, self.tpm or 0, tokens, self.burst_seconds,
                60.0 + self.window_margin]  # fmt: skip
        return float(self._scripts["reserve"](keys=keys, args=args))

    async def acquire(self, tokens: int) -> None:
        """Wait until a request of about ``tokens`` tokens may be sent."""
        wait = self.reserve(tokens)
        if wait > 0:
            await asyncio.sleep(wait)

    def settle(self, estimated: int, actual: int) -> None:
        """Charge (or refund) the difference between estimated and real tokens."""
        if self.tpm is not None and actual != estimated:
            keys = self._keys("tokens", "state")
            self._scripts["settle"](keys=keys, args=[estimated - actual, self.tpm])

    def rate_limited(self, retry_after: float | None) -> None:
        """The provider said 429: every worker waits ``retry_after`` (or a second), at half
        rate."""
        keys = self._keys("requests", "tokens", "state")
        self._scripts["limited"](keys=keys, args=[retry_after or 1.0, self.min_factor])

    def succeeded(self) -> None:
        """One more request went through: win back part of the rate."""
        self._scripts["succeeded"](keys=self._keys("state"), args=[self.recover_step])

    @property
    def factor(self) -> float:
        """The share of the configured rate now in force (1.0 = full speed)."""
        value = self._redis.hget(f"{self.key}:state", "factor")
        return 1.0 if value is None else float(value)

    @property
    def throttled(self) -> int:
        """429s seen by every worker so far."""
        return int(self._redis.hget(f"{self.key}:state", "throttled") or 0)


@dataclass
class SharedInFlight:
    """At most ``limit`` requests in flight across every worker sharing ``url`` and ``key``.
    A holder's slot expires after ``hold_seconds`` (a request's timeout): a killed worker
    cannot keep it."""

    url: str
    key: str
    limit: int
    hold_seconds: float = 600.0
    poll_seconds: float = 0.01
    _redis: Any = field(init=False, repr=False)
    _enter: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._redis = _client(self.url)
        self._enter = self._redis.register_script(_ENTER)

    async def take(self) -> str:
        """Wait for a slot; returns its token (for ``give``)."""
        token = uuid.uuid4().hex
        args = [self.limit, self.hold_seconds, token]
        while not self._enter(keys=[f"{self.key}:inflight"], args=args):
            await asyncio.sleep(self.poll_seconds)
        return token

    def give(self, token: str) -> None:
        self._redis.zrem(f"{self.key}:inflight", token)

    def holders(self) -> int:
        """Slots held now (expired ones included until the next take)."""
        return int(self._redis.zcount(f"{self.key}:inflight", time.time(), "+inf"))


@dataclass
class SharedInFlightJudge:
    """A judge whose requests each hold one of the shared in-flight slots."""

    judge: Judge
    slots: SharedInFlight

    @property
    def model(self) -> str:
        return self.judge.model

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        token = await self.slots.take()
        try:
            return await self.judge.answer(request)
        finally:
            self.slots.give(token)
