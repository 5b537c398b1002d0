"""The rate limit every worker shares, in Redis: the limiter's rules against the real server,
and three worker processes that together keep to one requests-per-minute cap and one
in-flight cap, as counted at the stand-in."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from typing import Any

import pytest

from evaluator.judge.shared_limits import SharedInFlight, SharedRateLimiter
from tests.reevaluate.stand_in import StandIn
from tests.tasks.conftest import (
    REDIS,
    ServiceFactory,
    Workers,
    post_calls,
    redis_or_skip,
    wait_judged,
)

pytestmark = [pytest.mark.celery, pytest.mark.filterwarnings("ignore::UserWarning")]


def limiter(key: str, **options: Any) -> SharedRateLimiter:
    return SharedRateLimiter(REDIS, key, **options)


@pytest.fixture
def key() -> str:
    redis_or_skip()
    return f"evaluator-test-limits-{uuid.uuid4().hex[:10]}"


def test_two_processes_share_one_request_rate(key: str) -> None:
    # Two limiters on one key are two workers: 60/min is one request a second between them.
    a, b = limiter(key, rpm=60, burst_seconds=0.0), limiter(key, rpm=60, burst_seconds=0.0)
    waits = [a.reserve(0), b.reserve(0), a.reserve(0), b.reserve(0)]
    assert waits[0] == pytest.approx(0.0, abs=0.05)
    for earlier, later in itertools.pairwise(waits):
        assert later - earlier == pytest.approx(1.0, abs=0.05)


def test_no_sixty_second_window_holds_more_than_the_cap(key: str) -> None:
    # A burst allowance of a whole minute lets the cell rate send at once; the kept log of
    # the last 30 turns still holds the 31st back until 60 s (and a margin) after the first.
    shared = limiter(key, rpm=30, burst_seconds=60.0)
    waits = [shared.reserve(0) for _ in range(31)]
    assert max(waits[:30]) < 1.0
    assert waits[30] >= 59.0


def test_a_429_slows_every_worker_then_the_rate_recovers(key: str) -> None:
    a, b = limiter(key, rpm=600, burst_seconds=0.0), limiter(key, rpm=600, burst_seconds=0.0)
    a.reserve(0)
    a.rate_limited(retry_after=2.0)  # one worker's 429 ...
    assert b.factor == 0.5 and b.throttled == 1
    first, second = b.reserve(0), b.reserve(0)  # ... pauses the other, at half the rate
    assert first == pytest.approx(2.0, abs=0.1)
    assert second - first == pytest.approx(0.2, abs=0.02)  # 600/min halved: 0.2 s apart
    for _ in range(10):
        b.succeeded()
    assert a.factor == 1.0


async def test_in_flight_slots_are_shared_and_a_dead_holder_s_slot_expires(key: str) -> None:
    one, two = SharedInFlight(REDIS, key, 2, hold_seconds=1.0), SharedInFlight(REDIS, key, 2)
    held = [await one.take(), await two.take()]
    third = asyncio.create_task(two.take())
    await asyncio.sleep(0.3)
    assert not third.done()  # both slots are held
    two.give(held[1])
    await asyncio.wait_for(third, 2.0)
    # held[0] is never given back (its worker died): its slot comes back after hold_seconds.
    started = time.monotonic()
    await asyncio.wait_for(two.take(), 3.0)
    assert time.monotonic() - started >= 0.5


async def test_three_workers_keep_to_one_request_rate(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    workers.start(3, concurrency=4, RPM="60")
    async with service() as running:
        pks = await post_calls(running, booking_request, 10)
        await asyncio.to_thread(wait_judged, running.store, pks, 90.0)
    arrivals = sorted(stand_in.arrivals)
    assert len(arrivals) == 10  # one request a call
    # 60/min is one a second with a second's burst: sent at 0, 0, 1, 2, ... 8 s. Arrivals
    # bunch up against the schedule where a worker's first request is slow (litellm's first
    # call, a loaded machine): allow any 4 s up to 9. Three workers each limited on its own
    # would send about 18 in 4 s, and all 10 within 3 s.
    for i, start in enumerate(arrivals):
        within = sum(1 for t in arrivals[i:] if t < start + 4.0)
        assert within <= 9, (i, within, [round(t - arrivals[0], 2) for t in arrivals])
    assert arrivals[-1] - arrivals[0] >= 7.0


async def test_workers_share_one_in_flight_cap(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    stand_in.latency = 1.0
    workers.start(2, concurrency=4, MAX_IN_FLIGHT="2")
    async with service() as running:
        pks = await post_calls(running, booking_request, 8)
        await asyncio.to_thread(wait_judged, running.store, pks, 90.0)
    # 8 slots between the two workers; 2 requests at the model at any time.
    assert stand_in.sent == 8
    assert stand_in.max_in_flight == 2


def most_in_any_window(arrivals: list[float], seconds: float) -> int:
    """The most requests the stand-in received within any ``seconds`` (half-open) window."""
    times = sorted(arrivals)
    return max((sum(1 for t in times[i:] if t < start + seconds)
                for i, start in enumerate(times)), default=0)  # fmt: skip


@pytest.mark.slow
async def test_three_workers_keep_to_the_cap_in_every_real_minute_and_to_the_in_flight_cap(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    # 30/min with at most 2 in flight at 3.5 s a request: either limit alone is not enough.
    # The in-flight cap alone sends 2 every 3.5 s (34/min: 35 calls in ~61 s); the rate alone
    # has 3 in flight whenever two turns fall within 3.5 s. Together: a turn every 2 s, the
    # rate limit held for over a minute, so the 60 s window is a real one.
    stand_in.latency = 3.5
    workers.start(3, concurrency=4, RPM="30", MAX_IN_FLIGHT="2")
    async with service() as running:
        pks = await post_calls(running, booking_request, 35)
        await asyncio.to_thread(wait_judged, running.store, pks, 150.0)
    arrivals = sorted(stand_in.arrivals)
    assert len(arrivals) == 35  # one request a call
    assert arrivals[-1] - arrivals[0] > 60.0  # the run held more than a minute of requests
    assert most_in_any_window(arrivals, 60.0) <= 30, [round(t - arrivals[0], 1) for t in arrivals]
    assert stand_in.max_in_flight <= 2
    # All three workers judged calls (the limits were shared, not one worker doing it all).
    assert all("succeeded" in workers.log(i) for i in range(3))
