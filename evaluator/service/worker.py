"""Background evaluation: workers claim stored calls, judge them, and store the results.

Concurrency is bounded by the number of runner tasks (``Settings.concurrency``). Each claimed
call goes through ``evaluator.tasks.job.evaluate_claim``, the job Celery's workers run too:
a call whose evaluation fails (the judge unavailable, every LLM metric failed) is retried
with exponential backoff up to ``max_attempts``, then left ``failed`` with its error; it can
be queued again later. Claims carry a lease that a heartbeat renews, so calls left
``evaluating`` by a process that died are taken over once their lease runs out; a clean
shutdown hands its in-flight calls straight back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.judge.schema import Judge
from evaluator.service.offload import Offload, child_store
from evaluator.service.webhook import Webhook
from evaluator.store.calls import Claim, Store
from evaluator.store.deliveries import DeliveryStore
from evaluator.tasks.delivery import call_body
from evaluator.tasks.job import JobContext, evaluate_claim, retry_delay
from evaluator.tasks.recordings import Recordings

if TYPE_CHECKING:  # the alerting module reads the list filters, which need the worker
    from evaluator.service.alerting import Alerting

__all__ = ["EvaluationWorker", "retry_delay"]

log = logging.getLogger("evaluator.service.worker")
FINISHED = ("evaluated", "failed")


class EvaluationWorker:
    """Runs evaluations of stored calls in the background of one process."""

    def __init__(
        self,
        store: Store,
        definitions: Definitions,
        judge: Judge,
        settings: Settings,
        webhook: Webhook | None = None,
        alerting: Alerting | None = None,
        recordings: Recordings | None = None,
        *,
        offload: Offload | None = None,
    ) -> None:
        self.recordings = recordings
        # Large calls' CPU stages in worker processes (service/offload.py); none: threads.
        self.offload = offload or Offload(0, 0)
        self.store = store
        self.definitions = definitions
        self.judge = judge
        self.settings = settings
        self.webhook = webhook
        self.alerting = alerting
        # One token per call queued, taken by one idle runner: a posted call wakes one
        # runner, not all of them (32 runners racing for one call cost PostgreSQL dozens of
        # statements per call). Bounded: busy runners look for work again anyway.
        self._wake: asyncio.Queue[None] = asyncio.Queue(maxsize=settings.concurrency)
        self._progress = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._deliveries: set[asyncio.Task[bool]] = set()
        self._inflight: dict[str, Claim] = {}
        self._stopping = False

    async def start(self) -> None:
        """Start the runners and the lease heartbeat; calls already queued are picked up."""
        self._stopping = False
        runners = [self._runner() for _ in range(self.settings.concurrency)]
        self._tasks = [asyncio.create_task(r) for r in [*runners, self._heartbeat()]]

    async def stop(self) -> None:
        """Stop evaluating; calls in flight go back to the queue untouched."""
        inflight = list(self._inflight.values())
        # The flag as well as cancel(): on Python 3.11 wait_for can swallow a cancellation
        # that arrives as its inner wait completes, and the runner would go on forever.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        for claim in inflight:
            await asyncio.to_thread(self.store.release, claim)
        if self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)

    def wake(self, calls: int = 1) -> None:
        """``calls`` were queued: that many idle runners look for work now instead of at
        their next poll."""
        for _ in range(calls):
            try:
                self._wake.put_nowait(None)
            except asyncio.QueueFull:
                return

    async def queued(self, pks: Sequence[int]) -> None:
        """Calls were stored or queued again (``evaluator.service.dispatch.Dispatcher``)."""
        self.wake(len(pks))

    async def wait_finished(self, pk: int, timeout: float) -> None:
        """Return once the call is evaluated or failed for good, or after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            progress = self._progress
            state = await asyncio.to_thread(self.store.evaluation_state, pk)
            remaining = deadline - loop.time()
            if state in FINISHED or remaining <= 0:
                return
            # Woken by this process's workers; polling covers other processes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), min(remaining, self.settings.poll_seconds))

    async def _runner(self) -> None:
        woken = False
        while not self._stopping:
            try:
                claim = await asyncio.to_thread(self.store.claim_next, self.settings.lease_seconds)
            except Exception:  # the database may be briefly unreachable: keep the worker alive
                log.exception("claiming a call failed; retrying")
                claim = None
            if claim is None:
                woken = await self._idle()
                continue
            if not woken:
                # A runner going on from its last call took this one: the call's wake-up
                # token would send an idle runner to find nothing (on PostgreSQL, an
                # empty claim for every other call posted under load).
                with contextlib.suppress(asyncio.QueueEmpty):
                    self._wake.get_nowait()
            woken = False
            self._inflight[claim.token] = claim
            try:
                await self._evaluate(claim)
            except Exception:
                log.exception("storing the evaluation of call %s failed", claim.call_pk)
            finally:
                self._inflight.pop(claim.token, None)
            self._signal_progress()

    async def _idle(self) -> bool:
        """Wait for a call's wake-up token or the next poll; whether a token woke it."""
        try:
            await asyncio.wait_for(self._wake.get(), self.settings.poll_seconds)
        except TimeoutError:
            return False
        return True

    async def _heartbeat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            if self._inflight:
                claims = list(self._inflight.values())
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.renew, claims, self.settings.lease_seconds)

    async def _evaluate(self, claim: Claim) -> None:
        context = JobContext(
            self.store,
            self.definitions,
            self.judge,
            self.settings,
            self.recordings,
            self.offload.evaluate,
        )
        outcome = await evaluate_claim(claim, context)
        if outcome.kind == "finished":
            await self._notify(claim.call_pk)
        elif outcome.kind == "retry" and outcome.retry_in == 0:
            self.wake()

    def _signal_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def _notify(self, pk: int) -> None:
        webhook, alerting = self.webhook, self.alerting
        if webhook is None:
            if alerting is not None:  # the call is read only if an alert may need it
                await alerting.check_stored(pk, read=self._finished_call)
            return
        call, body = await self._finished(pk, with_body=True)
        if alerting is not None:
            # In order, after each evaluation: a rule's window is the calls judged before it.
            await alerting.check(call)
        deliveries = DeliveryStore(self.store)
        delivery_id = await asyncio.to_thread(deliveries.add, pk, webhook.url)

        async def record(error: str | None, retry_in: float | None) -> object:
            return await asyncio.to_thread(
                deliveries.record_try, delivery_id, error, retry_in=retry_in
            )

        task = asyncio.create_task(webhook.deliver(call, record, body))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def _finished_call(self, pk: int) -> CallEvaluation:
        call, _ = await self._finished(pk, with_body=False)
        return call

    async def _finished(self, pk: int, *, with_body: bool) -> tuple[CallEvaluation, bytes | None]:
        """A finished call for the alerts and the webhook, and the webhook's body. A large
        call is read and its body made in a process (service/offload.py): the call handed
        back here is without its transcript, which only the body needs."""
        store, offload = self.store, self.offload
        if offload.processes and offload.wanted(await asyncio.to_thread(store.stored_size, pk)):
            found: tuple[CallEvaluation, bytes | None] = await offload.run(
                _finished_in_child, store.where(), pk, with_body
            )
            return found
        return await asyncio.to_thread(_finished_here, store, pk, with_body)


def _finished_here(store: Store, pk: int, with_body: bool) -> tuple[CallEvaluation, bytes | None]:
    call = store.get_call(pk)
    return call, call_body(call) if with_body else None


def _finished_in_child(
    where: tuple[str, float, int | None], pk: int, with_body: bool
) -> tuple[CallEvaluation, bytes | None]:
    call, body = _finished_here(child_store(where), pk, with_body)
    return call.model_copy(update={"transcript": "", "transcript_object": []}), body
