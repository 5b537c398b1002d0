"""The evaluation of one claimed call: the job both backends run.

The in-process ``EvaluationWorker`` (``evaluator serve`` without a broker) and Celery's
``evaluate_call`` task (``evaluator worker``) both call ``evaluate_claim`` and act on its
``Outcome``: they differ only in how the next try is scheduled (the worker's own queue
polling, or a task published with a countdown) and in how the webhook is sent.

The steps, in order: the call's recording, when it has one (``Recordings.prepare``: fetched,
transcribed, redacted and kept once; see ``tasks/recordings.py``), the stored request read
again (``read_request``, in a thread: parsing and redaction are CPU work over the whole
call), the engine (``evaluate_prepared``), then the result stored while the claim still
holds. A failed
attempt is retried with exponential backoff up to ``max_attempts``, then the call is left
``failed`` with its error.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from evaluator.bootstrap import Definitions
from evaluator.catalogue.definitions import Catalogue
from evaluator.config import Settings
from evaluator.contract import CallEvaluation
from evaluator.engine import evaluate_prepared
from evaluator.errors import RequestValidationError
from evaluator.ingest.intake import PreparedCall, read_request
from evaluator.ingest.limits import Limits
from evaluator.ingest.recording import RecordingOutcome
from evaluator.judge.schema import Judge
from evaluator.judge.templates import PromptRenderer
from evaluator.store.calls import Claim, Store
from evaluator.tasks.recordings import RecordingFailed, Recordings

__all__ = ["Evaluate", "JobContext", "Outcome", "evaluate_claim", "in_threads", "retry_delay"]

log = logging.getLogger("evaluator.tasks.job")


def retry_delay(attempts: int, base_seconds: float, max_seconds: float) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt: base, 2x base, 4x base..."""
    return float(min(max_seconds, base_seconds * 2 ** max(attempts - 1, 0)))


class Evaluate(Protocol):
    """Validate a claimed call's stored request and judge it; raises
    ``RequestValidationError`` as ``read_request`` does."""

    async def __call__(
        self,
        claim: Claim,
        catalogue: Catalogue,
        renderer: PromptRenderer,
        judge: Judge,
        limits: Limits,
        recording: RecordingOutcome | None = None,
    ) -> CallEvaluation: ...


async def in_threads(
    claim: Claim,
    catalogue: Catalogue,
    renderer: PromptRenderer,
    judge: Judge,
    limits: Limits,
    recording: RecordingOutcome | None = None,
) -> CallEvaluation:
    """``Evaluate`` off the event loop in this process: decoding, parsing and redaction are
    CPU work over the whole call, so they run in a thread (the engine stages its own work
    in one)."""

    def read() -> PreparedCall:
        return read_request(
            claim.effective_request(), catalogue, limits, recording=recording, stored=True
        )

    prepared = await asyncio.to_thread(read)
    return await evaluate_prepared(prepared, judge=judge, renderer=renderer)


@dataclass(frozen=True)
class JobContext:
    """What a job needs: the store, the definitions, the judge, the settings, and the
    recording step (None: calls are judged on their transcripts alone)."""

    store: Store
    definitions: Definitions
    judge: Judge
    settings: Settings
    recordings: Recordings | None = None
    # How a stored request becomes an evaluation: in threads by default; the service's
    # in-process worker passes its process pool's (``service/offload.py``) for large calls.
    evaluate: Evaluate | None = None


@dataclass(frozen=True)
class Outcome:
    """How a job ended: ``finished`` (evaluated, or failed for good: notify); ``retry``
    (put back, due in ``retry_in`` seconds); ``lost`` (the claim was taken over: nothing
    written, nothing to do)."""

    kind: Literal["finished", "retry", "lost"]
    retry_in: float = 0.0


async def evaluate_claim(claim: Claim, context: JobContext) -> Outcome:
    """Evaluate a claimed call and store the result (or the failed attempt)."""
    store, catalogue = context.store, context.definitions.catalogue
    try:
        recording = (
            await context.recordings.prepare(claim, catalogue) if context.recordings else None
        )
    except RecordingFailed as exc:
        if exc.retryable:
            return await _failed_attempt(claim, context, exc.message, None)
        done = await asyncio.to_thread(store.give_up, claim, exc.message)
        return Outcome("finished" if done else "lost")
    evaluate = context.evaluate or in_threads
    try:
        evaluation = await evaluate(
            claim,
            catalogue,
            context.definitions.renderer,
            context.judge,
            context.settings.limits(),
            recording,
        )
    except RequestValidationError as exc:
        # Only when the definitions changed since the call was stored: retrying cannot help.
        done = await asyncio.to_thread(store.give_up, claim, f"cannot evaluate: {exc}")
        return Outcome("finished" if done else "lost")
    except Exception as exc:  # a bug must not lose the call: count it as a failed attempt
        log.exception("evaluating call %s raised", claim.call_pk)
        return await _failed_attempt(
            claim, context, f"internal error: {type(exc).__name__}: {exc}", None
        )
    if evaluation.evaluation_status == "failed":
        error = evaluation.error_message or "evaluation failed"
        return await _failed_attempt(claim, context, error, evaluation)
    done = await asyncio.to_thread(store.complete, claim, evaluation, failed=False)
    return Outcome("finished" if done else "lost")


async def _failed_attempt(
    claim: Claim, context: JobContext, error: str, evaluation: CallEvaluation | None
) -> Outcome:
    settings, store = context.settings, context.store
    if claim.attempts < settings.max_attempts:
        delay = retry_delay(claim.attempts, settings.retry_base_seconds, settings.retry_max_seconds)
        at = datetime.now(UTC) + timedelta(seconds=delay)
        log.warning("call %s attempt %d failed (%s); retry in %.1fs",
                    claim.call_pk, claim.attempts, error, delay)  # fmt: skip
        put_back = await asyncio.to_thread(store.retry_later, claim, error, at)
        return Outcome("retry", delay) if put_back else Outcome("lost")
    message = f"failed after {claim.attempts} attempts: {error}"
    if evaluation is None:
        done = await asyncio.to_thread(store.give_up, claim, message)
    else:
        evaluation = evaluation.model_copy(update={"error_message": message})
        done = await asyncio.to_thread(store.complete, claim, evaluation, failed=True)
    return Outcome("finished" if done else "lost")
