"""The task bodies a Celery worker (``evaluator worker``) runs.

- ``evaluate_call(pk)``: claim the call in the database, run the one job function
  (``job.evaluate_claim``) with the lease renewed while it runs, then publish the webhook's
  delivery or the next try. A call another worker holds is tried again when that lease ends;
  a call with nothing left to do is a no-op.
- ``reevaluate_chunk(run_id, pks)``: judge those calls of a re-evaluation run (unless it was
  cancelled); each call's result is stored once, however often the chunk is delivered.
- ``deliver_webhook(delivery_id)``: one try of a completion webhook, the next one published
  with its backoff.
- ``sweep()``: ``sweep.sweep`` (for Celery beat).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from celery import Celery, Task

from evaluator.config import Settings
from evaluator.reevaluate.run import Reevaluation
from evaluator.store.calls import Claim, Store
from evaluator.store.deliveries import DeliveryStore
from evaluator.store.queue import Busy
from evaluator.store.reruns import RerunStore
from evaluator.tasks.app import CALL_TASK, CHUNK_TASK, DELIVERY_TASK, SWEEP_TASK, Publisher
from evaluator.tasks.delivery import deliver_once
from evaluator.tasks.job import Outcome, evaluate_claim
from evaluator.tasks.runtime import Runtime
from evaluator.tasks.sweep import sweep

__all__ = ["register"]

log = logging.getLogger("evaluator.tasks.worker")
T = TypeVar("T")


async def _leased(store: Store, claim: Claim, lease: float, job: Coroutine[Any, Any, T]) -> T:
    """Run ``job`` while renewing the claim's lease every third of it."""

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(store.renew, [claim], lease)

    beat = asyncio.create_task(heartbeat())
    try:
        return await job
    finally:
        beat.cancel()


def register(app: Celery, settings: Settings) -> None:
    """Register the tasks on ``app``; they share one ``Runtime`` per worker process."""
    runtime = Runtime(settings)
    publisher = Publisher(settings, app)
    lease = settings.lease_seconds
    task: Any = app.task  # Celery's decorator is untyped

    @task(name=CALL_TASK, bind=True, max_retries=None)
    def evaluate_call(self: Task, pk: int) -> str:
        context = runtime.context()
        found = context.store.claim_call(pk, lease)
        if found is None:
            return "nothing to do"
        if isinstance(found, Busy):  # another worker's lease, or a retry not yet due
            raise self.retry(countdown=found.seconds + 0.1)
        outcome: Outcome = runtime.run(
            _leased(context.store, found, lease, evaluate_claim(found, context))
        )
        if outcome.kind == "finished" and settings.webhook_url:
            delivery = DeliveryStore(context.store).add(pk, settings.webhook_url)
            publisher.delivery(delivery)
        elif outcome.kind == "retry":
            publisher.calls([pk], countdown=outcome.retry_in)
        return outcome.kind

    @task(name=CHUNK_TASK)
    def reevaluate_chunk(run_id: str, pks: list[int]) -> str:
        context = runtime.context()
        runs = RerunStore(context.store)
        info = runs.run(run_id)
        if info is None or info.status != "running":
            return f"run {run_id} is {info.status if info else 'gone'}: skipped"
        concurrency = settings.max_in_flight or settings.concurrency
        runner = Reevaluation(context.store, context.definitions, context.judge,
                              concurrency, only=frozenset(pks))  # fmt: skip
        progress = runtime.run(runner.judge_share(run_id))
        return f"{progress.done} judged, {progress.skipped} skipped, {progress.failed} failed"

    @task(name=DELIVERY_TASK)
    def deliver_webhook(delivery_id: int) -> str:
        context = runtime.context()
        record = deliver_once(context.store, delivery_id, settings.webhook_secret,
                              tries=settings.webhook_tries,
                              backoff_seconds=settings.retry_base_seconds or 1.0)  # fmt: skip
        if record is None:
            return "no such delivery"
        if record.status == "pending":
            wait = (record.next_attempt_at - datetime.now(UTC)).total_seconds()
            publisher.delivery(delivery_id, countdown=max(wait, 0.0))
        return record.status

    @task(name=SWEEP_TASK)
    def sweep_task() -> str:
        swept = sweep(runtime.context().store, publisher, lease)
        return f"{swept.calls} calls, {swept.deliveries} deliveries"

    app.evaluator_runtime = runtime
