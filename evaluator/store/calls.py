"""Calls: intake (stored before judged), reads for the API, human review and overrides.

A call is committed before it is judged; re-posting a byte-identical body returns the stored
call. The evaluation queue is ``store.queue``; runs and their results are ``store.evaluations``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from evaluator.contract import CallEvaluation
from evaluator.store.db import now as _now
from evaluator.store.evaluations import call_logs
from evaluator.store.queue import JobQueue
from evaluator.store.recordings import RecordingStore
from evaluator.store.rows import call_log, call_values, filtered, request_of, shown_status
from evaluator.store.scope import in_scope, live_call
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow, RecordingRow, ReviewRow
from evaluator.store.types import (
    EDITABLE_COLUMNS,
    EVALUATING,
    CallBusyError,
    CallFilter,
    CallInputs,
    CallNotFoundError,
    Claim,
    DuplicateCallError,
    JobScope,
    NewCall,
    RecordingRef,
)

__all__ = [
    "CallBusyError",
    "CallFilter",
    "CallInputs",
    "CallNotFoundError",
    "Claim",
    "DuplicateCallError",
    "JobScope",
    "NewCall",
    "RecordingRef",
    "Store",
]


class Store(JobQueue, RecordingStore):
    """The database: SQLite file by default, PostgreSQL by URL (``postgresql+psycopg://``).
    Calls and reviews here; the queue, recordings and the schema in the classes it builds on."""

    # Intake and reads

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.session() as session:
            session.execute(select(1))

    def check_visible(self, pk: int) -> None:
        """``CallNotFoundError`` unless the call is stored, not deleted, and of this handle's
        project (a read: it waits for no writer)."""
        query = select(CallRow.id).where(CallRow.id == pk, in_scope(self.project_id))
        with self.connection(read_only=True) as conn:
            if conn.execute(query).first() is None:
                raise CallNotFoundError([pk])

    def stored_size(self, pk: int) -> int:
        """The length of a call's stored body (0 when there is none): whether reading it
        whole is heavy work, without reading it."""
        query = select(func.length(CallRow.body)).where(CallRow.id == pk, in_scope(self.project_id))
        with self.connection(read_only=True) as conn:
            return int(conn.execute(query).scalar() or 0)

    def evaluation_state(self, pk: int) -> str:
        """A call's ``evaluation_status`` alone (for waiting on it without reading it)."""
        query = select(CallRow.evaluation_status).where(CallRow.id == pk, in_scope(self.project_id))
        with self.connection(read_only=True) as conn:
            state = conn.execute(query).scalar()
        if state is None:
            raise CallNotFoundError([pk])
        return str(state)

    def stored_request(self, pk: int) -> dict[str, Any]:
        """The request a call is evaluated with: as received, with PATCHed fields applied."""
        with self.session() as session:
            return request_of(live_call(session, pk, self.project_id))

    def inputs(self, pk: int) -> CallInputs:
        """What a call log's detail shows of the call's inputs (see ``CallInputs``)."""
        with self.session() as session:
            row = live_call(session, pk, self.project_id)
            recording = session.get(RecordingRow, pk)
            recorded = recording is not None and recording.blob_key is not None
            said = (recording.analysis or {}) if recording is not None else {}
            channel = said.get("agent_channel") if said.get("channels") == 2 else None
            return CallInputs(request_of(row), dict(row.overrides or {}), recorded,
                              project_id=row.project_id, agent_channel=channel)  # fmt: skip

    def add_call(self, new: NewCall, *, allow_duplicates: bool) -> tuple[CallEvaluation, bool]:
        """Store a call as pending; returns it and whether it is new.

        A byte-identical re-post returns the stored call (``False``). A different body under
        the same ``call_id`` and agent raises ``DuplicateCallError`` unless duplicates are
        allowed, in which case it is stored as a new call.
        """
        base = f"{new.agent_id}:{new.call_id}"
        key = f"{base}:{new.body_hash}" if allow_duplicates else base
        values = call_values(new, key, _now())
        try:
            if new.recording is None:
                # One statement: on PostgreSQL one round trip, committed synchronously
                # (durable) before the POST answers (``Database.statement``).
                with self.statement() as conn:
                    pk = conn.execute(insert(CallRow).returning(CallRow.id), values).scalar_one()
            else:
                with self.session() as session:  # the call and its recording, atomically
                    row = CallRow(**values)
                    session.add(row)
                    session.flush()
                    session.add(RecordingRow(call_pk=row.id, **new.recording.__dict__))
                    pk = row.id
        except IntegrityError:
            pass
        else:
            # As committed (pending): a worker may claim it the moment it is visible.
            # A new call has no run and no review yet: nothing to read back.
            return call_log(CallRow(id=pk, **values), None, [], None), True
        with self.session() as session:
            existing = session.scalars(select(CallRow).where(CallRow.dedupe_key == key)).one()
            pk, same = existing.id, existing.body_hash == new.body_hash
        if not same:
            raise DuplicateCallError(new.call_id, new.agent_id, pk)
        return self.get_call(pk), False

    def get_call(self, pk: int) -> CallEvaluation:
        """One stored call as a call log; ``CallNotFoundError`` when there is none."""
        with self.session() as session:
            return call_logs(session, [live_call(session, pk, self.project_id)])[0]

    def list_calls(
        self, where: CallFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[CallEvaluation], int]:
        """A page of calls, newest first, and how many match in all."""
        with self.session() as session:
            query = filtered(where, self.project_id)
            total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            rows = session.scalars(
                query.order_by(CallRow.occurred_at.desc(), CallRow.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            return call_logs(session, list(rows)), total

    def call_ids(self, where: CallFilter, *, after_id: int = 0, limit: int = 500) -> list[int]:
        """Ids of matching calls above ``after_id``, ascending: keyset paging for batch jobs."""
        with self.session() as session:
            query = (
                filtered(where, self.project_id).where(CallRow.id > after_id).order_by(CallRow.id)
            )
            return list(session.scalars(query.with_only_columns(CallRow.id).limit(limit)))

    # Human input

    def review(
        self, pk: int, *, status: str | None, feedback: str | None, fields: set[str]
    ) -> None:
        """Set the human review (only the ``fields`` given); machine results are untouched."""
        now = _now()
        with self.session() as session:
            live_call(session, pk, self.project_id)
            row = session.get(ReviewRow, pk) or ReviewRow(call_pk=pk, created_at=now)
            if "status" in fields:
                row.status = status
            if "feedback" in fields:
                row.feedback = feedback
            row.updated_at = now
            session.add(row)

    def edit(self, pk: int, overrides: dict[str, Any], columns: dict[str, Any]) -> None:
        """Correct a call (a PATCH): ``overrides`` replace request fields at the top level for
        later evaluations, ``columns`` (of ``EDITABLE_COLUMNS``) what the call shows. Refused
        with ``CallBusyError`` while its evaluation is pending or running, checked in the same
        statement as the write, so a worker never judges half of a correction."""
        unknown = set(columns) - set(EDITABLE_COLUMNS)
        if unknown:
            raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
        try:
            with self.session() as session:
                row = live_call(session, pk, self.project_id)
                values = {**columns, "updated_at": _now()}
                values["overrides"] = {**(row.overrides or {}), **overrides}
                if "call_id" in columns:
                    values["dedupe_key"] = _renamed_key(row, columns["call_id"])
                done = session.execute(
                    update(CallRow)
                    .where(CallRow.id == pk, CallRow.evaluation_status.not_in(EVALUATING))
                    .values(**values)
                )
                if done.rowcount != 1:  # type: ignore[attr-defined]
                    raise CallBusyError(pk, row.evaluation_status)
            return
        except IntegrityError:
            pass
        with self.session() as session:
            other = session.scalars(
                select(CallRow.id).where(CallRow.agent_id == row.agent_id,
                                         CallRow.call_id == columns["call_id"], CallRow.id != pk)
            ).first()  # fmt: skip
        raise DuplicateCallError(columns["call_id"], row.agent_id, other or pk)

    def delete_calls(self, pks: list[int], *, retain_evaluations: bool) -> None:
        """Delete calls (all or none: unknown ids raise ``CallNotFoundError``). Without
        ``retain_evaluations`` everything of them goes; with it the call is hidden from every
        read and its evaluations and votes stay for the agent's statistics."""
        with self.session() as session:
            found = set(
                session.scalars(
                    select(CallRow.id).where(CallRow.id.in_(pks), in_scope(self.project_id))
                )
            )
            missing = sorted(set(pks) - found)
            if missing:
                raise CallNotFoundError(missing)
            if not retain_evaluations:
                session.execute(delete(CallRow).where(CallRow.id.in_(pks)))
                return
            # Off the queue for good ("deleted" is never claimed; a claim in flight is lost),
            # and its call_id free for a new call.
            session.execute(
                update(CallRow)
                .where(CallRow.id.in_(pks))
                .values(deleted_at=_now(), evaluation_status="deleted", dedupe_key=None,
                        claim_token=None, lease_expires_at=None, updated_at=_now())
            )  # fmt: skip

    def filter_values(self) -> dict[str, list[Any]]:
        """What the stored calls hold, for building filters: agents, statuses, topics,
        dropoff points and the metrics of current results."""
        calls = filtered(CallFilter(), self.project_id)
        current = EvaluationRow.id == CallRow.current_evaluation_id
        live = in_scope(self.project_id)
        with self.session() as session:
            agents = session.execute(
                select(CallRow.agent_id, func.max(CallRow.agent_name)).where(live)
                .group_by(CallRow.agent_id).order_by(CallRow.agent_id)
            ).all()  # fmt: skip
            statuses = session.scalars(calls.with_only_columns(shown_status()).distinct())
            topics = session.scalars(calls.with_only_columns(EvaluationRow.topic).distinct())
            dropoffs = session.scalars(
                calls.with_only_columns(EvaluationRow.dropoff_point).distinct()
            )
            metrics = session.execute(
                select(MetricResultRow.metric_id, func.max(MetricResultRow.numeric_id),
                       func.max(MetricResultRow.name), func.max(MetricResultRow.type))
                .join(EvaluationRow, EvaluationRow.id == MetricResultRow.evaluation_id)
                .join(CallRow, current).where(live)
                .group_by(MetricResultRow.metric_id).order_by(MetricResultRow.metric_id)
            ).all()  # fmt: skip
            return {
                "agents": [{"id": a, "name": n} for a, n in agents],
                "statuses": sorted(s for s in statuses if s),
                "topics": sorted(v for v in topics if v),
                "dropoff_points": sorted(v for v in dropoffs if v),
                "metrics": [{"slug": s, "numeric_id": i, "name": n, "type": t}
                            for s, i, n, t in metrics],
            }  # fmt: skip


def _renamed_key(row: CallRow, call_id: str) -> str | None:
    """The idempotency key under a new call_id, in the form the call was stored with."""
    if row.dedupe_key is None:
        return None
    suffix = f":{row.body_hash}" if row.dedupe_key.endswith(f":{row.body_hash}") else ""
    return f"{row.agent_id}:{call_id}{suffix}"
