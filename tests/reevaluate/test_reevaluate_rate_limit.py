"""The shared rate limiter, on a fake clock: no real waiting, exact times."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from evaluator.contract import Usage
from evaluator.errors import JudgeUnavailableError
from evaluator.judge.rate_limit import RateLimitedJudge, RateLimiter, retry_after_of
from evaluator.judge.schema import JudgeAnswer, JudgeRequest


@dataclass
class FakeClock:
    """Time moves only when someone sleeps: each sleeper wakes at its own deadline, in order."""

    t: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)


def test_requests_per_minute_spaces_requests_after_the_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, clock=clock, burst_seconds=0.0)
    times = [limiter.reserve(0) for _ in range(5)]
    assert times == [0.0, 1.0, 2.0, 3.0, 4.0]
    burst = RateLimiter(rpm=60, clock=FakeClock(), burst_seconds=2.0)
    assert [burst.reserve(0) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_tokens_per_minute_charges_by_size_and_settles() -> None:
    limiter = RateLimiter(tpm=6000, clock=FakeClock(), burst_seconds=0.0)  # 100 tokens/s
    assert limiter.reserve(500) == 0.0
    assert limiter.reserve(100) == 5.0  # waits for the first 500 tokens to pass
    limiter.settle(estimated=100, actual=300)  # it really used 300: 2 more seconds owed
    assert limiter.reserve(1) == 8.0


def test_a_429_pauses_everyone_halves_the_rate_then_recovers() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, clock=clock, burst_seconds=0.0, recover_step=0.25)
    assert limiter.reserve(0) == 0.0
    limiter.rate_limited(retry_after=10.0)
    assert limiter.factor == 0.5
    first_after = limiter.reserve(0)
    assert first_after >= 10.0
    assert limiter.reserve(0) - first_after == pytest.approx(2.0)  # half rate: 2 s apart
    limiter.succeeded()
    limiter.succeeded()
    assert limiter.factor == 1.0
    assert limiter.throttled == 1


class _Status429(Exception):
    status_code = 429

    def __init__(self, retry_after: str) -> None:
        super().__init__("rate limited")
        self.response = type("R", (), {"headers": {"retry-after": retry_after}})()


def test_retry_after_is_found_under_the_judge_error() -> None:
    try:
        try:
            raise _Status429("7")
        except _Status429 as inner:
            raise JudgeUnavailableError("m", "RateLimitError after 1 tries") from inner
    except JudgeUnavailableError as exc:
        assert retry_after_of(exc) == (True, 7.0)
    assert retry_after_of(ValueError("x")) == (False, None)


@dataclass
class FlakyJudge:
    """Answers 429 (Retry-After 5) for its first ``limited`` requests."""

    limited: int
    calls: list[float] = field(default_factory=list)
    clock: FakeClock = field(default_factory=FakeClock)

    @property
    def model(self) -> str:
        return "fake/flaky"

    async def answer(self, request: JudgeRequest) -> JudgeAnswer:
        self.calls.append(self.clock.now())
        if self.limited > 0:
            self.limited -= 1
            try:
                raise _Status429("5")
            except _Status429 as exc:
                raise JudgeUnavailableError(self.model, "rate limited") from exc
        return JudgeAnswer({}, {}, "{}", Usage(requests=1, prompt_tokens=10))


async def test_limited_judge_retries_429_after_the_pause_for_all_workers() -> None:
    judge = FlakyJudge(limited=1)
    limiter = RateLimiter(rpm=600, clock=judge.clock, burst_seconds=0.0)
    wrapped = RateLimitedJudge(judge, limiter)
    request = JudgeRequest("call", [{"role": "user", "content": "x" * 40}], dict)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(wrapped.answer(request) for _ in range(3)))
    assert len(answers) == 3 and limiter.throttled == 1
    assert len(judge.calls) == 4  # three requests, one retried
    # The 429 came first: every later request (the others and the retry) waited out Retry-After.
    assert judge.calls[0] == 0.0 and all(t >= 5.0 for t in judge.calls[1:])
    never = RateLimitedJudge(
        FlakyJudge(limited=10**6, clock=FakeClock()),
        RateLimiter(rpm=600, clock=FakeClock()),
        max_tries=3,
    )
    with pytest.raises(JudgeUnavailableError):
        await never.answer(request)


def test_workers_split_the_concurrency_and_the_rate_limits_without_exceeding_them() -> None:
    from evaluator.config import Settings
    from evaluator.reevaluate.parallel import Limits, check_workers
    from evaluator.reevaluate.run import ReevaluateError

    limits = Limits(concurrency=10, rpm=600, tpm=90_000, workers=3)
    shares = [limits.share(k) for k in range(3)]
    assert [s.concurrency for s in shares] == [4, 3, 3]
    assert sum(s.rpm or 0 for s in shares) == pytest.approx(600)
    assert sum(s.tpm or 0 for s in shares) == pytest.approx(90_000)
    assert all(s.workers == 1 for s in shares)
    with pytest.raises(ReevaluateError, match="2 workers need a --concurrency of at least 2"):
        check_workers(Settings(model="openai/m"), Limits(concurrency=1, workers=2))
    assert Limits(concurrency=8, workers=2).share(0).rpm is None  # no limit stays none


async def test_a_run_keeps_at_most_concurrency_requests_in_flight_with_more_calls_open() -> None:
    """``limited`` caps requests at the model at the run's concurrency; the run handles a
    few more calls than that (``Limits.tasks``) so none of the slots waits on the store."""
    from evaluator.contract import Usage
    from evaluator.reevaluate.parallel import Limits, limited

    in_flight = most = 0

    class Slow:
        model = "slow"

        async def answer(self, request: JudgeRequest) -> JudgeAnswer:
            nonlocal in_flight, most
            in_flight += 1
            most = max(most, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
            return JudgeAnswer(fields={}, errors={}, raw_completion="{}", usage=Usage())

    limits = Limits(concurrency=4)
    assert limits.tasks > limits.concurrency
    judge = limited(Slow(), limits)
    request = JudgeRequest("call", [], dict)  # type: ignore[arg-type]
    await asyncio.gather(*(judge.answer(request) for _ in range(limits.tasks * 3)))
    assert most == 4
