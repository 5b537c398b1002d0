"""Background evaluation: workers claim stored calls, judge them, and store the results.

Concurrency is bounded by the number of runner tasks (``Settings.concurrency``). A call
whose evaluation fails (the judge unavailable, every LLM metric failed) is retried with
exponential backoff up to ``max_attempts``, then left ``failed`` with its error; it can be
queued again later. Claims carry a lease that a heartbeat renews, so calls left
``evaluating`` by a process that died are taken over once their lease runs out; a clean
shutdown hands its in-flight calls straight back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from evaluator.bootstrap import Definitions
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.errors import RequestValidationError
from evaluator.judge.schema import Judge
from evaluator.service.offload import Offload
from evaluator.service.recordings import RecordingFailed, Recordings
from evaluator.service.webhook import Webhook
from evaluator.store.calls import Claim, Store

if TYPE_CHECKING:  # the alerting module reads the list filters, which need the worker
    from evaluator.service.alerting import Alerting

__all__ = ["EvaluationWorker", "retry_delay"]

log = logging.getLogger("evaluator.service.worker")
FINISHED = ("evaluated", "failed")


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2x base, 4x base..."""
    return float(min(max_seconds, base_seconds * 2 ** max(attempts - 1, 0)))


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
        self._wake = asyncio.Event()
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

    def wake(self) -> None:
        """A call was queued: look for work now instead of at the next poll."""
        self._wake.set()

    async def wait_finished(self, pk: int, timeout: float) -> CallEvaluation:
        """The call once evaluated or failed for good, or as it stands after ``timeout``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            progress = self._progress
            call = await asyncio.to_thread(self.store.get_call, pk)
            remaining = deadline - loop.time()
            if call.evaluation_status in FINISHED or remaining <= 0:
                return call
            # Woken by this process's workers; polling covers other processes.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), min(remaining, self.settings.poll_seconds))

    async def _runner(self) -> None:
        while not self._stopping:
            try:
                claim = await asyncio.to_thread(self.store.claim_next, self.settings.lease_seconds)
            except Exception:  # the database may be briefly unreachable: keep the worker alive
                log.exception("claiming a call failed; retrying")
                claim = None
            if claim is None:
                await self._idle()
                continue
            self._inflight[claim.token] = claim
            try:
                await self._evaluate(claim)
            except Exception:
                log.exception("storing the evaluation of call %s failed", claim.call_pk)
            finally:
                self._inflight.pop(claim.token, None)
            self._signal_progress()

    async def _idle(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.settings.poll_seconds)
        self._wake.clear()

    async def _heartbeat(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self.settings.lease_seconds / 3)
            if self._inflight:
                claims = list(self._inflight.values())
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(self.store.renew, claims, self.settings.lease_seconds)

    async def _evaluate(self, claim: Claim) -> None:
        catalogue = self.definitions.catalogue
        try:  # the recording step (service/recordings.py): fetch, transcribe, redact, keep
            recording = await self.recordings.prepare(claim, catalogue) if self.recordings else None
        except RecordingFailed as exc:
            if exc.retryable:
                await self._failed_attempt(claim, exc.message, None)
            elif await asyncio.to_thread(self.store.give_up, claim, exc.message):
                await self._notify(claim.call_pk)
            return
        try:
            # Parsing, redaction, computed metrics and prompts are CPU work over the whole
            # call: in a process for a large call, else a thread; never on the event loop.
            evaluation = await self.offload.evaluate(
                claim.effective_request(), catalogue, self.definitions.renderer, self.judge,
                self.settings.limits(), recording,
            )  # fmt: skip
        except RequestValidationError as exc:
            # Only when the definitions changed since the call was stored: retrying cannot help.
            await asyncio.to_thread(self.store.give_up, claim, f"cannot evaluate: {exc}")
            return
        except Exception as exc:  # a bug must not lose the call: count it as a failed attempt
            log.exception("evaluating call %s raised", claim.call_pk)
            await self._failed_attempt(claim, f"internal error: {type(exc).__name__}: {exc}", None)
            return
        if evaluation.evaluation_status == "failed":
            await self._failed_attempt(
                claim, evaluation.error_message or "evaluation failed", evaluation
            )
            return
        if await asyncio.to_thread(self.store.complete, claim, evaluation, failed=False):
            await self._notify(claim.call_pk)

    async def _failed_attempt(
        self, claim: Claim, error: str, evaluation: CallEvaluation | None
    ) -> None:
        settings = self.settings
        if claim.attempts < settings.max_attempts:
            delay = retry_delay(
                claim.attempts, settings.retry_base_seconds, settings.retry_max_seconds
            )
            at = datetime.now(UTC) + timedelta(seconds=delay)
            log.warning("call %s attempt %d failed (%s); retry in %.1fs",
                        claim.call_pk, claim.attempts, error, delay)  # fmt: skip
            await asyncio.to_thread(self.store.retry_later, claim, error, at)
            if delay == 0:
                self.wake()
            return
        message = f"failed after {claim.attempts} attempts: {error}"
        if evaluation is None:
            done = await asyncio.to_thread(self.store.give_up, claim, message)
        else:
            evaluation = evaluation.model_copy(update={"error_message": message})
            done = await asyncio.to_thread(self.store.complete, claim, evaluation, failed=True)
        if done:
            await self._notify(claim.call_pk)

    def _signal_progress(self) -> None:
        self._progress.set()
        self._progress = asyncio.Event()

    async def _notify(self, pk: int) -> None:
        if self.webhook is None and self.alerting is None:
            return
        call = await asyncio.to_thread(self.store.get_call, pk)
        if self.alerting is not None:
            # In order, after each evaluation: a rule's window is the calls judged before it.
            await self.alerting.check(call)
        if self.webhook is None:
            return
        task = asyncio.create_task(self.webhook.deliver(call))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
