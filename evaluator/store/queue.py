"""The evaluation queue, in the calls table: leases taken by a conditional UPDATE.

Workers claim a call with a lease (atomic on SQLite and PostgreSQL alike), and their results
are written only while the claim still holds, in one transaction, so every call is evaluated
to completion exactly once per request even across crashes, restarts and several processes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Text,
    Update,
    and_,
    bindparam,
    cast,
    exists,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from evaluator.contract import CallEvaluation, MetricResult, merged_results
from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.evaluations import call_logs, insert_evaluation
from evaluator.store.scope import in_scope
from evaluator.store.tables import CallRow, RecordingRow
from evaluator.store.types import Busy, CallNotFoundError, Claim, JobScope

__all__ = ["Busy", "JobQueue"]


def _claimable(now: datetime | BindParameter[datetime]) -> ColumnElement[bool]:
    return or_(
        and_(CallRow.evaluation_status == "pending", CallRow.next_attempt_at <= now),
        and_(CallRow.evaluation_status == "evaluating", CallRow.lease_expires_at < now),
    )


def _claim(which: ColumnElement[bool]) -> Update:
    """The claim of the call ``which`` names, if claimable, read back in the same statement
    (``RETURNING``); its values are parameters (``now``, ``token``, ``until``), so it is
    built once: building it per claim (the ORM's attribute operators, its cache key) was
    most of a claim's CPU in the web process."""
    now = bindparam("now", type_=CallRow.next_attempt_at.type)
    request = CallRow.request
    return (
        update(CallRow)
        .where(which, _claimable(now))
        .values(
            evaluation_status="evaluating",
            claim_token=bindparam("token"),
            lease_expires_at=bindparam("until"),
            attempts=CallRow.attempts + 1,
            updated_at=now,
        )
        .returning(
            CallRow.id,
            CallRow.attempts,
            cast(request, Text),  # decoded by whoever needs it, not here
            CallRow.overrides,
            CallRow.job_scope,
            CallRow.job_metric_ids,
            request["voice_recording_url"].as_string(),
            exists().where(RecordingRow.call_pk == CallRow.id),
        )
    )


# The next due call (pending, or evaluating with an expired lease); the call ``pk``.
_CLAIM_NEXT = _claim(
    CallRow.id
    == select(CallRow.id)
    .where(_claimable(bindparam("now", type_=CallRow.next_attempt_at.type)))
    .order_by(CallRow.next_attempt_at, CallRow.id)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_CLAIM_CALL = _claim(CallRow.id == bindparam("pk"))


class JobQueue(Database):
    """Claiming, leasing, retrying and completing the evaluation of stored calls."""

    # The evaluation queue

    def claim_next(self, lease_seconds: float) -> Claim | None:
        """Take the next due call (pending, or evaluating with an expired lease), or None.

        One statement, one round trip: ``UPDATE ... WHERE id = (SELECT ... LIMIT 1 FOR
        UPDATE SKIP LOCKED) RETURNING``. On PostgreSQL concurrent claimers skip the rows
        others are taking instead of queueing on their locks (reading a few candidates and
        trying each with its own UPDATE made 32 runners wait on each other's row locks: ~16
        statements per call posted under 50 clients, ``benchmarks/bench_service_load.py``);
        SQLite ignores the locking clause, its writer lock already serialises claims."""
        with self.statement() as conn:
            return _take(conn, _CLAIM_NEXT, {}, lease_seconds)

    def claim_call(self, pk: int, lease_seconds: float) -> Claim | Busy | None:
        """Take one named call (a task's call): the claim; ``Busy`` with the seconds until it
        may be claimed (another worker's lease holds, or a retry is not due yet); or None
        when there is nothing to do (judged, failed for good, deleted)."""
        now = _now()
        claim = self._try_claim(pk, now, lease_seconds)
        if claim is not None:
            return claim
        with self.session() as session:
            row = session.get(CallRow, pk)
            if row is None or row.deleted_at is not None:
                return None
            if row.evaluation_status == "evaluating" and row.lease_expires_at is not None:
                return Busy(max((row.lease_expires_at - now).total_seconds(), 0.0), lease=True)
            if row.evaluation_status == "pending":
                return Busy(max((row.next_attempt_at - now).total_seconds(), 0.0))
            return None

    def stale_calls(self, lease_seconds: float, limit: int = 500) -> list[int]:
        """Calls a task should be running for but maybe is not (the sweeper's work): due
        pending calls not (re-)published within a lease, and calls whose lease ran out."""
        now = _now()
        before = now - timedelta(seconds=lease_seconds)
        forgotten = and_(
            CallRow.evaluation_status == "pending",
            CallRow.next_attempt_at <= before,
            or_(CallRow.published_at.is_(None), CallRow.published_at <= before),
        )
        abandoned = and_(
            CallRow.evaluation_status == "evaluating",
            CallRow.lease_expires_at < now,
            or_(CallRow.published_at.is_(None), CallRow.published_at <= before),
        )
        with self.session() as session:
            return list(
                session.scalars(
                    select(CallRow.id)
                    .where(or_(forgotten, abandoned), CallRow.deleted_at.is_(None))
                    .order_by(CallRow.id)
                    .limit(limit)
                )
            )

    def mark_published(self, pks: Sequence[int]) -> None:
        """Record that the calls' tasks were just re-published (see ``stale_calls``)."""
        if pks:
            with self.session() as session:
                session.execute(
                    update(CallRow).where(CallRow.id.in_(list(pks))).values(published_at=_now())
                )

    def _try_claim(self, pk: int, now: datetime, lease_seconds: float) -> Claim | None:
        with self.statement() as conn:
            return _take(conn, _CLAIM_CALL, {"pk": pk}, lease_seconds, now)

    def queue_depth(self) -> int:
        """Calls waiting for a worker or being judged now (a read: waits for no writer)."""
        with self.connection(read_only=True) as conn:
            waiting = CallRow.evaluation_status.in_(("pending", "evaluating"))
            return int(conn.scalar(select(func.count()).where(waiting)) or 0)

    def next_due(self) -> datetime | None:
        """When the earliest waiting call falls due (for sleeping until then)."""
        with self.session() as session:
            return session.scalar(
                select(func.min(CallRow.next_attempt_at)).where(
                    CallRow.evaluation_status == "pending"
                )
            )

    def renew(self, claims: Sequence[Claim], lease_seconds: float) -> None:
        """Extend the leases of calls still being evaluated."""
        if not claims:
            return
        held = [(claim.call_pk, claim.token) for claim in claims]
        # One statement for every claim (a worker holds dozens): one round trip, not one each.
        # The ids alone as well: PostgreSQL finds the rows by key, where the pairs alone
        # made it scan the table.
        with self.statement() as conn:
            conn.execute(
                update(CallRow)
                .where(CallRow.id.in_([pk for pk, _ in held]))
                .where(tuple_(CallRow.id, CallRow.claim_token).in_(held))
                .values(lease_expires_at=_now() + timedelta(seconds=lease_seconds))
            )

    def release(self, claim: Claim) -> None:
        """Give a claimed call back untouched (on shutdown), without counting the attempt."""
        with self.session() as session:
            session.execute(
                _held(claim).values(
                    evaluation_status="pending",
                    claim_token=None,
                    lease_expires_at=None,
                    attempts=CallRow.attempts - 1,
                    next_attempt_at=_now(),
                )
            )

    def retry_later(self, claim: Claim, error: str, at: datetime) -> bool:
        """Record a failed attempt and put the call back in the queue until ``at``."""
        with self.session() as session:
            done = session.execute(
                _held(claim).values(
                    evaluation_status="pending",
                    claim_token=None,
                    lease_expires_at=None,
                    last_error=error,
                    next_attempt_at=at,
                    updated_at=_now(),
                )
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def give_up(self, claim: Claim, error: str) -> bool:
        """Leave a claimed call ``failed`` with ``error`` and no new results (not retryable
        without a change, e.g. its agent or metrics were removed from the definitions)."""
        with self.session() as session:
            done = session.execute(
                _held(claim).values(
                    evaluation_status="failed",
                    claim_token=None,
                    lease_expires_at=None,
                    last_error=error,
                    updated_at=_now(),
                )
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def complete(self, claim: Claim, evaluation: CallEvaluation, *, failed: bool) -> bool:
        """Write an evaluation run and its results atomically, if the claim still holds.

        ``failed`` leaves the call ``failed`` (attempts exhausted) with the run's error. A
        ``chosen`` job merges its metrics into the previous results. Returns False when the
        claim was lost (lease expired and taken over, or the call re-queued): nothing written.
        """
        source = {"request": "observe", "all": "rerun", "chosen": "evaluate_metrics"}
        # Relaxed (not waiting for the disk): lost in a server crash, the call is still
        # ``evaluating`` under the claim, whose lease runs out, and it is judged again (its
        # judge answers from the judgment cache when that was written); the call a user
        # sent was committed durably at intake. Any later durable commit (the next intake,
        # a webhook's delivery row) makes this one durable too.
        try:
            with self.relaxed() as conn:
                metrics = evaluation.metrics
                if claim.job_scope == "chosen":
                    with Session(bind=conn) as session:
                        current = self._current_metrics(session, claim.call_pk)
                    metrics = merged_results(current, metrics)
                run_id = insert_evaluation(
                    conn, claim.call_pk, evaluation, metrics, source[claim.job_scope]
                )
                # The run, then the call made to show it, only while the claim holds: one
                # UPDATE (a round trip fewer than checking the claim first).
                done = conn.execute(
                    _held(claim).values(
                        evaluation_status="failed" if failed else "evaluated",
                        claim_token=None,
                        lease_expires_at=None,
                        last_error=evaluation.error_message if failed else None,
                        current_evaluation_id=run_id,
                        updated_at=_now(),
                    )
                )
                if done.rowcount != 1:
                    raise _ClaimLost  # the run's rows are rolled back with it
        except _ClaimLost:
            return False
        return True

    def record_evaluation(
        self, pk: int, evaluation: CallEvaluation, *, source: str, make_current: bool
    ) -> int:
        """Store an evaluation run outside the queue (e.g. a re-evaluation with new metric
        versions); ``make_current`` makes it the call's shown result. Returns the run id."""
        with self.session() as session:
            if session.get(CallRow, pk) is None:
                raise CallNotFoundError([pk])
            return self._insert_run(
                session, pk, evaluation, evaluation.metrics, source, make_current=make_current
            )

    def enqueue(
        self,
        pks: Sequence[int] | None,
        *,
        agent_id: int | None,
        scope: JobScope,
        metric_ids: list[str] | None = None,
    ) -> list[int]:
        """Queue stored calls for evaluation again (``None`` = every call of ``agent_id``).
        Unknown ids (or ids of another agent) raise ``CallNotFoundError`` naming them."""
        with self.session() as session:
            query = select(CallRow.id).where(in_scope(self.project_id))
            if agent_id is not None:
                query = query.where(CallRow.agent_id == agent_id)
            if pks is not None:
                query = query.where(CallRow.id.in_(list(pks)))
            found = list(session.scalars(query.order_by(CallRow.id)))
            missing = sorted(set(pks or []) - set(found))
            if missing:
                raise CallNotFoundError(missing)
            session.execute(
                update(CallRow)
                .where(CallRow.id.in_(found))
                .values(
                    evaluation_status="pending",
                    attempts=0,
                    last_error=None,
                    claim_token=None,
                    lease_expires_at=None,
                    next_attempt_at=_now(),
                    job_scope=scope,
                    job_metric_ids=metric_ids,
                    updated_at=_now(),
                )
            )
            return found

    # Internals

    def _current_metrics(self, session: Session, pk: int) -> list[MetricResult]:
        # Locked until the merged run is written: no other run becomes current meanwhile.
        row = session.get_one(CallRow, pk, with_for_update=True)
        if row.current_evaluation_id is None:
            return []
        return call_logs(session, [row])[0].metrics

    def _insert_run(
        self,
        session: Session,
        pk: int,
        evaluation: CallEvaluation,
        metrics: list[MetricResult],
        source: str,
        *,
        make_current: bool = True,
    ) -> int:
        run_id = insert_evaluation(session, pk, evaluation, metrics, source)
        if make_current:
            session.execute(
                update(CallRow).where(CallRow.id == pk).values(current_evaluation_id=run_id)
            )
        return run_id


class _ClaimLost(Exception):
    """Raised inside a transaction to roll it back: the claim no longer holds."""


def _take(
    conn: Connection,
    claim: Update,
    which: dict[str, Any],
    lease_seconds: float,
    now: datetime | None = None,
) -> Claim | None:
    """Run a claim statement (``_claim``): the claim, or None when the call was not
    claimable. One statement: on PostgreSQL one round trip (``Database.statement``)."""
    now = now or _now()
    token = uuid.uuid4().hex
    until = now + timedelta(seconds=lease_seconds)
    found = conn.execute(claim, {**which, "now": now, "token": token, "until": until})
    row = found.one_or_none()
    if row is None:
        return None
    pk, attempts, text, overrides, scope, metric_ids, url, has = row
    return Claim(pk, token, attempts, text, dict(overrides or {}), scope, metric_ids,
                 recording_url=url, recorded=bool(has))  # fmt: skip


def _held(claim: Claim) -> Any:
    return update(CallRow).where(
        CallRow.id == claim.call_pk,
        CallRow.claim_token == claim.token,
        CallRow.evaluation_status == "evaluating",
    )
