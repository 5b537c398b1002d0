"""Calls: intake (stored before judged), reads for the API, human review and overrides.

A call is committed before it is judged; re-posting a byte-identical body returns the stored
call. The evaluation queue is ``store.queue``; runs and their results are ``store.evaluations``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from evaluator.contract import CallEvaluation
from evaluator.store.db import now as _now
from evaluator.store.evaluations import call_logs
from evaluator.store.queue import JobQueue
from evaluator.store.rows import call_row, filtered, request_of
from evaluator.store.tables import CallRow, RecordingRow, ReviewRow
from evaluator.store.types import (
    CallFilter,
    CallNotFoundError,
    Claim,
    DuplicateCallError,
    JobScope,
    NewCall,
    Recording,
)

__all__ = [
    "CallFilter",
    "CallNotFoundError",
    "Claim",
    "DuplicateCallError",
    "JobScope",
    "NewCall",
    "Recording",
    "Store",
]


class Store(JobQueue):
    """The database: SQLite file by default, PostgreSQL by URL (``postgresql+psycopg://``).
    Calls and reviews here; the queue and the schema in the classes it builds on."""

    # Intake and reads

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self.session() as session:
            session.execute(select(1))

    def stored_request(self, pk: int) -> dict[str, Any]:
        """The request a call is evaluated with: as received, with PATCHed fields applied."""
        with self.session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            return request_of(row)

    def add_call(self, new: NewCall, *, allow_duplicates: bool) -> tuple[CallEvaluation, bool]:
        """Store a call as pending; returns it and whether it is new.

        A byte-identical re-post returns the stored call (``False``). A different body under
        the same ``call_id`` and agent raises ``DuplicateCallError`` unless duplicates are
        allowed, in which case it is stored as a new call.
        """
        base = f"{new.agent_id}:{new.call_id}"
        key = f"{base}:{new.body_hash}" if allow_duplicates else base
        try:
            with self.session() as session:
                row = call_row(new, key, _now())
                session.add(row)
                session.flush()
                if new.recording is not None:
                    session.add(RecordingRow(call_pk=row.id, **new.recording.__dict__))
                # As committed (pending): a worker may claim it the moment it is visible.
                stored = call_logs(session, [row])[0]
            return stored, True
        except IntegrityError:
            pass
        with self.session() as session:
            existing = session.scalars(select(CallRow).where(CallRow.dedupe_key == key)).one()
            pk, same = existing.id, existing.body_hash == new.body_hash
        if not same:
            raise DuplicateCallError(new.call_id, new.agent_id, pk)
        return self.get_call(pk), False

    def get_call(self, pk: int) -> CallEvaluation:
        """One stored call as a call log; ``CallNotFoundError`` when there is none."""
        with self.session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            return call_logs(session, [row])[0]

    def list_calls(
        self, where: CallFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[CallEvaluation], int]:
        """A page of calls, newest first, and how many match in all."""
        with self.session() as session:
            query = filtered(where)
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
            query = filtered(where).where(CallRow.id > after_id).order_by(CallRow.id)
            return list(session.scalars(query.with_only_columns(CallRow.id).limit(limit)))

    def recording(self, pk: int) -> Recording | None:
        """The uploaded audio of a call, if one was uploaded."""
        with self.session() as session:
            row = session.get(RecordingRow, pk)
            if row is None:
                return None
            return Recording(row.filename, row.content_type, row.sha256, row.data)

    # Human input

    def review(
        self, pk: int, *, status: str | None, feedback: str | None, fields: set[str]
    ) -> None:
        """Set the human review (only the ``fields`` given); machine results are untouched."""
        now = _now()
        with self.session() as session:
            if session.get(CallRow, pk) is None:
                raise CallNotFoundError([pk])
            row = session.get(ReviewRow, pk) or ReviewRow(call_pk=pk, created_at=now)
            if "status" in fields:
                row.status = status
            if "feedback" in fields:
                row.feedback = feedback
            row.updated_at = now
            session.add(row)

    def set_overrides(self, pk: int, overrides: dict[str, Any]) -> None:
        """Replace request fields (metadata, dynamic_variables) for later evaluations."""
        with self.session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            row.overrides = {**(row.overrides or {}), **overrides}
            row.updated_at = _now()
