"""What a worker process holds for its tasks: the store, the definitions, the judge (behind
the judgment cache and the shared rate limit), and one event loop in a thread of its own.

Built on a process's first task (after Celery forked it), kept for the process's life. Every
task thread hands its coroutine to the one loop, so the judge's HTTP clients, the in-flight
limit and litellm's caches live on one loop, whatever Celery's pool (threads or prefork).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

from evaluator.bootstrap import load_definitions, open_judge
from evaluator.config import Settings
from evaluator.judge.cache import CachingJudge
from evaluator.judge.rate_limit import InFlightLimitedJudge, RateLimitedJudge
from evaluator.judge.schema import Judge
from evaluator.judge.shared_limits import SharedInFlight, SharedInFlightJudge, SharedRateLimiter
from evaluator.store.calls import Claim, Store
from evaluator.tasks.app import RunLimits
from evaluator.tasks.job import JobContext
from evaluator.tasks.recordings import Recordings

__all__ = ["Runtime", "limits_url", "shared_limits"]

T = TypeVar("T")


def _limits_url(settings: Settings) -> str | None:
    if settings.rate_limit_url:
        return settings.rate_limit_url
    broker = settings.broker_url or ""
    return broker if broker.startswith(("redis://", "rediss://")) else None


def limits_url(settings: Settings) -> str:
    """The Redis that holds the shared limits; raises ``ValueError`` (saying what to set)
    when there is none."""
    url = _limits_url(settings)
    if url is None:
        raise ValueError(
            "EVALUATOR_RPM, _TPM and _MAX_IN_FLIGHT (and reevaluate's --rpm, --tpm and -c "
            "on Celery) are shared through Redis: set EVALUATOR_RATE_LIMIT_URL (or use a "
            "Redis broker)"
        )
    return url


def _limited(judge: Judge, settings: Settings, key: str, limits: RunLimits) -> Judge:
    """``judge`` behind a shared in-flight slot, then the rate's turn (outermost first)."""
    if limits.rpm is None and limits.tpm is None and limits.in_flight is None:
        return judge
    url = limits_url(settings)
    if limits.rpm is not None or limits.tpm is not None:
        judge = RateLimitedJudge(judge, SharedRateLimiter(url, key, limits.rpm, limits.tpm))
    if limits.in_flight is not None:
        hold = settings.timeout * (settings.num_retries + 1) + 30
        judge = SharedInFlightJudge(judge, SharedInFlight(url, key, limits.in_flight, hold))
    return judge


def _uncached(judge: Judge) -> Judge:
    return judge.judge if isinstance(judge, CachingJudge) else judge


def _cached_like(template: Judge, inner: Judge) -> Judge:
    """``inner`` behind the same judgment cache as ``template`` (if it has one)."""
    if isinstance(template, CachingJudge):
        return CachingJudge(inner, template.backend, template.description)
    return inner


def shared_limits(judge: Judge, settings: Settings) -> Judge:
    """Put the shared limits (``EVALUATOR_RPM``, ``_TPM``, ``_MAX_IN_FLIGHT``) under the
    cache, so a cache hit neither waits for the limiter nor takes a slot."""
    limits = RunLimits(settings.rpm, settings.tpm, settings.max_in_flight)
    if limits.empty:
        return judge
    key = f"{settings.rate_limit_key}:{judge.model}"
    inner = _limited(_uncached(judge), settings, key, limits)
    if isinstance(judge, CachingJudge):
        judge.judge = inner
        return judge
    return inner


AfterEvaluation = Callable[[JobContext, int], Coroutine[Any, Any, object]]


class Runtime:
    """One worker process's collaborators, built lazily (see the module's docstring)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._context: JobContext | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stack = contextlib.ExitStack()
        self._held: dict[str, Claim] = {}
        self._heartbeat: threading.Thread | None = None
        self._shared: Judge | None = None  # the judge under the shared limits, uncached
        self._slots: asyncio.Semaphore | None = None  # this process's request slots
        self._runs: dict[tuple[str, RunLimits], Judge] = {}
        # Run after each call whose evaluation finished (evaluated, or failed for good), in
        # the order the calls finish: the alerts, which live above this layer and are set by
        # ``evaluator worker`` (None: nothing runs).
        self.after_evaluation: Callable[[JobContext, int], Coroutine[Any, Any, object]] | None = (
            None
        )

    @contextlib.contextmanager
    def holding(self, claim: Claim) -> Iterator[None]:
        """Keep the claim's lease renewed while the block runs. A thread of its own renews
        every held lease, so a busy event loop (a slow first request, a long CPU stretch)
        never lets a lease lapse and the sweeper hand the call to a second worker."""
        with self._lock:
            self._held[claim.token] = claim
            if self._heartbeat is None:
                self._heartbeat = threading.Thread(target=self._renew_forever, daemon=True)
                self._heartbeat.start()
        try:
            yield
        finally:
            with self._lock:
                self._held.pop(claim.token, None)

    def _renew_forever(self) -> None:
        lease = self.settings.lease_seconds
        while True:
            time.sleep(lease / 3)
            with self._lock:
                claims = list(self._held.values())
                store = self._context.store if self._context is not None else None
            if claims and store is not None:
                with contextlib.suppress(Exception):
                    store.renew(claims, lease)

    def use(self, context: JobContext) -> None:
        """Run the tasks with this context instead of building one (a worker embedded in a
        process that already has its store and judge: tests, a single-process setup)."""
        with self._lock:
            self._context = context

    def context(self) -> JobContext:
        with self._lock:
            if self._context is None:
                settings = self.settings
                if settings.rpm is not None or settings.tpm is not None:
                    # 429s are retried by the shared limiter, so everyone slows down together.
                    settings = settings.model_copy(update={"num_retries": 0})
                definitions = load_definitions(settings)
                store = Store(settings.database_url, busy_timeout=settings.db_busy_timeout,
                              pool=settings.db_pool())  # fmt: skip
                self._stack.callback(store.close)
                judge, _notice = self._stack.enter_context(open_judge(settings))
                # At most `concurrency` requests in flight from this process, whatever the
                # tasks running at once (re-evaluation chunks judge many calls each). That
                # slot is taken first, the shared limits' turn after it: a turn taken while
                # waiting for a slot would be spent late, bunched with later turns.
                self._shared = _uncached(shared_limits(judge, settings))
                self._slots = asyncio.Semaphore(settings.concurrency)
                judge = _cached_like(judge, self._process_slots(self._shared))
                recordings = Recordings(self.settings, store)
                self._context = JobContext(store, definitions, judge, self.settings, recordings)
            return self._context

    def _process_slots(self, judge: Judge) -> Judge:
        """``judge`` behind this process's request slots, shared by every task's judge."""
        assert self._slots is not None  # made with the shared judge
        return InFlightLimitedJudge(judge, self.settings.concurrency, slots=self._slots)

    def judge_for(self, run_id: str, limits: RunLimits) -> Judge:
        """The judge for a re-evaluation run with limits of its own (``reevaluate --rpm
        --tpm -c`` on Celery), shared by every worker through Redis under the run's key, on
        top of the workers' own; the same process slots as every other task, and the same
        cache unless the run bypasses it (``--no-cache``)."""
        context = self.context()
        if limits.empty:
            return context.judge
        with self._lock:
            if self._shared is None or self._slots is None:  # a context given with ``use``
                self._shared = _uncached(context.judge)
                self._slots = asyncio.Semaphore(self.settings.concurrency)
            found = self._runs.get((run_id, limits))
            if found is None:
                key = f"{self.settings.rate_limit_key}:run:{run_id}:{context.judge.model}"
                inner = self._process_slots(_limited(self._shared, self.settings, key, limits))
                found = _cached_like(context.judge, inner) if limits.cache else inner
                while len(self._runs) >= 8:  # runs seldom overlap: keep the latest few
                    self._runs.pop(next(iter(self._runs)))
                self._runs[(run_id, limits)] = found
            return found

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run ``coroutine`` on the process's loop and wait for its result."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="evaluator-loop")
                thread.daemon = True
                thread.start()
                self._loop = loop
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result()

    def close(self) -> None:
        """Stop: jobs still running on the loop are cancelled (their tasks' threads return,
        the calls' leases run out and the sweeper hands them on), then the store and judge
        are closed."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(_cancel_all(), loop).result(timeout=10)
            loop.call_soon_threadsafe(loop.stop)
        with self._lock:
            self._stack.close()
            self._context = None


async def _cancel_all() -> None:
    current = asyncio.current_task()
    pending = [t for t in asyncio.all_tasks() if t is not current]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
