"""The task bodies a Celery worker (``evaluator worker``) runs.

- ``evaluate_call(pk)``: claim the call in the database, run the one job function
  (``job.evaluate_claim``) with the lease renewed while it runs, then publish the webhook's
  delivery or the next try. A call another worker holds is tried again when that lease ends
  (a few times); a call with nothing left to do is a no-op.
- ``reevaluate_chunk(run_id, pks[, limits])``: judge those calls of a re-evaluation run
  (unless it was cancelled), within the run's own limits if it has any (``RunLimits``); each
  call's result is stored once, however often the chunk is delivered. A chunk that raised is
  tried again, then its calls are failed with the reason (the run ends; resume retries them).
- ``deliver_webhook(delivery_id)``: one try of a completion webhook, the next one published
  with its backoff.
- ``sweep()``: ``sweep.sweep`` (for Celery beat).
"""

from __future__ import annotations

import functools
import logging
from datetime import UTC, datetime
from typing import Any

from celery import Celery, Task, signals

from evaluator.bootstrap import settle_heap
from evaluator.config import Settings
from evaluator.judge.warmup import preload
from evaluator.reevaluate.run import Reevaluation
from evaluator.store.deliveries import DeliveryStore
from evaluator.store.queue import Busy
from evaluator.store.reruns import RerunStore
from evaluator.tasks.app import (
    CALL_TASK,
    CHUNK_TASK,
    DELIVERY_TASK,
    SWEEP_TASK,
    Publisher,
    RunLimits,
)
from evaluator.tasks.delivery import deliver_once
from evaluator.tasks.job import Outcome, evaluate_claim
from evaluator.tasks.runtime import Runtime
from evaluator.tasks.sweep import sweep

__all__ = ["register"]

log = logging.getLogger("evaluator.tasks.worker")
# A duplicate of a call another worker holds waits for that lease to end this many times (a
# killed worker's task, rejected back to the broker, takes the call over), then gives up.
BUSY_RETRIES = 2
# A re-evaluation chunk that raised is tried this many times more before its calls fail.
CHUNK_RETRIES = 2


def register(app: Celery, settings: Settings) -> None:
    """Register the tasks on ``app``; they share one ``Runtime`` per worker process."""
    runtime = Runtime(settings)
    publisher = Publisher(settings, app)
    lease = settings.lease_seconds
    task: Any = functools.partial(app.task, shared=False)  # untyped; this app only

    @task(name=CALL_TASK, bind=True, max_retries=None)
    def evaluate_call(self: Task, pk: int) -> str:
        context = runtime.context()
        found = context.store.claim_call(pk, lease)
        if found is None:
            return "nothing to do"
        if isinstance(found, Busy):
            if found.lease and self.request.retries >= BUSY_RETRIES:
                return "held by another worker"  # the sweeper acts if that worker died
            raise self.retry(countdown=found.seconds + 0.1)
        with runtime.holding(found):
            outcome: Outcome = runtime.run(evaluate_claim(found, context))
        if outcome.kind == "finished" and runtime.after_evaluation is not None:
            try:
                runtime.run(runtime.after_evaluation(context, pk))
            except Exception:  # an alert that cannot run must not undo the stored result
                log.exception("the alerts after call %s failed", pk)
        if outcome.kind == "finished" and settings.webhook_url:
            delivery = DeliveryStore(context.store).add(pk, settings.webhook_url)
            publisher.delivery(delivery)
        elif outcome.kind == "retry":
            publisher.calls([pk], countdown=outcome.retry_in)
        return outcome.kind

    @task(name=CHUNK_TASK, bind=True, max_retries=CHUNK_RETRIES)
    def reevaluate_chunk(
        self: Task, run_id: str, pks: list[int], limits: dict[str, Any] | None = None
    ) -> str:
        context = runtime.context()
        runs = RerunStore(context.store)
        status = runs.status(run_id)  # not runs.run(): every chunk would count the run's items
        if status != "running":
            return f"run {run_id} is {status or 'gone'}: skipped"
        concurrency = settings.max_in_flight or settings.concurrency
        judge = runtime.judge_for(run_id, RunLimits.from_json(limits))
        runner = Reevaluation(context.store, context.definitions, judge,
                              concurrency, only=frozenset(pks),
                              limits=settings.limits())  # fmt: skip
        try:
            progress = runtime.run(runner.judge_share(run_id))
        except Exception as exc:
            # What was judged is stored; the rest must not stay pending for ever (the
            # command waits for the run to end): tried again, then failed with the reason.
            if self.request.retries < CHUNK_RETRIES:
                log.warning("chunk of run %s raised %r; trying it again", run_id, exc)
                raise self.retry(countdown=1.0) from exc
            log.exception("chunk of run %s failed; its calls are failed", run_id)
            why = f"internal error: {type(exc).__name__}: {exc}"
            return f"{runs.fail_pending(run_id, pks, why)} failed: {why}"
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

    @signals.worker_process_init.connect(weak=False)
    def _prefork_child(**_: Any) -> None:  # each prefork child builds its own, after fork
        settle_heap(runtime.context().settings)

    @signals.worker_process_shutdown.connect(weak=False)
    def _prefork_child_exit(**_: Any) -> None:  # and closes it (the judge's server with it)
        runtime.close()


def prepare(app: Celery, pool: str) -> None:
    """Build the worker's collaborators before it takes tasks (the judge's imports alone take
    seconds): in this process for the threads and solo pools; prefork children build theirs
    as they start, from the modules imported here once."""
    runtime: Runtime = app.evaluator_runtime
    # What the judge imports on its first request, imported now: a new worker's first
    # requests (all its task slots at once) would otherwise wait on those imports.
    preload()
    if pool == "prefork":
        import evaluator.judge.litellm_judge  # noqa: F401  (imported once, shared by fork)

        app.conf.worker_proc_alive_timeout = 120.0
        return
    settle_heap(runtime.context().settings)
