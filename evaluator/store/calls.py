"""Durable storage of calls, their evaluation queue and results (SQLAlchemy 2; the only SQL).

A call is committed before it is judged. Workers claim a call with a lease (a conditional
UPDATE, atomic on SQLite and PostgreSQL alike), and their results are written only while the
claim still holds, in one transaction, so every call is evaluated to completion exactly once
per request even across crashes, restarts and several server processes. Each evaluation run
is kept with its metric results (version, model) and usage; human review is stored apart.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    and_,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.rows import call_log, call_row, evaluation_values, filtered, merged
from evaluator.store.tables import (
    Base,
    CallRow,
    EvaluationRow,
    MetricResultRow,
    RecordingRow,
    ReviewRow,
)
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

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def _now() -> datetime:
    return datetime.now(UTC)


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        and_(CallRow.evaluation_status == "pending", CallRow.next_attempt_at <= now),
        and_(CallRow.evaluation_status == "evaluating", CallRow.lease_expires_at < now),
    )


class Store:
    """The database: SQLite file by default, PostgreSQL by URL (``postgresql+psycopg://``)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time: serialize this process's access instead of
        # letting threads wait on the file lock.
        self._lock: threading.Lock | None = threading.Lock() if url.startswith("sqlite") else None

    def upgrade(self) -> None:
        """Apply the Alembic migrations shipped in the package, up to the newest."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        if self._lock is None:
            with self._sessions.begin() as session:
                yield session
            return
        with self._lock, self._sessions.begin() as session:
            yield session

    # Intake and reads

    def ping(self) -> None:
        """Raise if the database cannot be reached."""
        with self._session() as session:
            session.execute(select(1))

    def stored_request(self, pk: int) -> dict[str, Any]:
        """The request a call is evaluated with: as received, with PATCHed fields applied."""
        with self._session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            return {**row.request, **(row.overrides or {})}

    def add_call(self, new: NewCall, *, allow_duplicates: bool) -> tuple[CallEvaluation, bool]:
        """Store a call as pending; returns it and whether it is new.

        A byte-identical re-post returns the stored call (``False``). A different body under
        the same ``call_id`` and agent raises ``DuplicateCallError`` unless duplicates are
        allowed, in which case it is stored as a new call.
        """
        base = f"{new.agent_id}:{new.call_id}"
        key = f"{base}:{new.body_hash}" if allow_duplicates else base
        try:
            with self._session() as session:
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
        with self._session() as session:
            existing = session.scalars(select(CallRow).where(CallRow.dedupe_key == key)).one()
            pk, same = existing.id, existing.body_hash == new.body_hash
        if not same:
            raise DuplicateCallError(new.call_id, new.agent_id, pk)
        return self.get_call(pk), False

    def get_call(self, pk: int) -> CallEvaluation:
        """One stored call as a call log; ``CallNotFoundError`` when there is none."""
        with self._session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            return call_logs(session, [row])[0]

    def list_calls(
        self, where: CallFilter, *, offset: int = 0, limit: int = 50
    ) -> tuple[list[CallEvaluation], int]:
        """A page of calls, newest first, and how many match in all."""
        with self._session() as session:
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
        with self._session() as session:
            query = filtered(where).where(CallRow.id > after_id).order_by(CallRow.id)
            return list(session.scalars(query.with_only_columns(CallRow.id).limit(limit)))

    def recording(self, pk: int) -> Recording | None:
        """The uploaded audio of a call, if one was uploaded."""
        with self._session() as session:
            row = session.get(RecordingRow, pk)
            if row is None:
                return None
            return Recording(row.filename, row.content_type, row.sha256, row.data)

    # The evaluation queue

    def claim_next(self, lease_seconds: float) -> Claim | None:
        """Take the next due call (pending, or evaluating with an expired lease), or None."""
        now = _now()
        with self._session() as session:
            candidates = session.scalars(
                select(CallRow.id)
                .where(_claimable(now))
                .order_by(CallRow.next_attempt_at, CallRow.id)
                .limit(8)
            ).all()
        for pk in candidates:
            claim = self._try_claim(pk, now, lease_seconds)
            if claim is not None:
                return claim
        return None

    def _try_claim(self, pk: int, now: datetime, lease_seconds: float) -> Claim | None:
        token = uuid.uuid4().hex
        with self._session() as session:
            taken = session.execute(
                update(CallRow)
                .where(CallRow.id == pk, _claimable(now))
                .values(
                    evaluation_status="evaluating",
                    claim_token=token,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=CallRow.attempts + 1,
                    updated_at=now,
                )
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                return None
            row = session.get_one(CallRow, pk, populate_existing=True)
            request = {**row.request, **(row.overrides or {})}
            return Claim(
                pk,
                token,
                row.attempts,
                request,
                row.job_scope,  # type: ignore[arg-type]
                row.job_metric_ids,
            )

    def next_due(self) -> datetime | None:
        """When the earliest waiting call falls due (for sleeping until then)."""
        with self._session() as session:
            return session.scalar(
                select(func.min(CallRow.next_attempt_at)).where(
                    CallRow.evaluation_status == "pending"
                )
            )

    def renew(self, claims: Sequence[Claim], lease_seconds: float) -> None:
        """Extend the leases of calls still being evaluated."""
        now = _now()
        with self._session() as session:
            for claim in claims:
                session.execute(
                    update(CallRow)
                    .where(CallRow.id == claim.call_pk, CallRow.claim_token == claim.token)
                    .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
                )

    def release(self, claim: Claim) -> None:
        """Give a claimed call back untouched (on shutdown), without counting the attempt."""
        with self._session() as session:
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
        with self._session() as session:
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
        with self._session() as session:
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
        now = _now()
        with self._session() as session:
            done = session.execute(
                _held(claim).values(
                    evaluation_status="failed" if failed else "evaluated",
                    claim_token=None,
                    lease_expires_at=None,
                    last_error=evaluation.error_message if failed else None,
                    updated_at=now,
                )
            )
            if done.rowcount != 1:  # type: ignore[attr-defined]
                return False
            metrics = evaluation.metrics
            if claim.job_scope == "chosen":
                metrics = merged(self._current_metrics(session, claim.call_pk), metrics)
            source = {"request": "observe", "all": "rerun", "chosen": "evaluate_metrics"}
            self._insert_run(session, claim.call_pk, evaluation, metrics, source[claim.job_scope])
            return True

    def record_evaluation(
        self, pk: int, evaluation: CallEvaluation, *, source: str, make_current: bool
    ) -> int:
        """Store an evaluation run outside the queue (e.g. a re-evaluation with new metric
        versions); ``make_current`` makes it the call's shown result. Returns the run id."""
        with self._session() as session:
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
        with self._session() as session:
            query = select(CallRow.id)
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

    # Human input

    def review(
        self, pk: int, *, status: str | None, feedback: str | None, fields: set[str]
    ) -> None:
        """Set the human review (only the ``fields`` given); machine results are untouched."""
        now = _now()
        with self._session() as session:
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
        with self._session() as session:
            row = session.get(CallRow, pk)
            if row is None:
                raise CallNotFoundError([pk])
            row.overrides = {**(row.overrides or {}), **overrides}
            row.updated_at = _now()

    # Internals

    def _current_metrics(self, session: Session, pk: int) -> list[MetricResult]:
        row = session.get_one(CallRow, pk)
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


def insert_evaluation(
    session: Session, pk: int, evaluation: CallEvaluation, metrics: list[MetricResult],
    source: str,
) -> int:  # fmt: skip
    """Insert an evaluation run and its metric rows in the session's transaction; its id."""
    run, results = evaluation_values(pk, evaluation, metrics, source, _now())
    inserted = session.execute(insert(_table(EvaluationRow)).values(**run))
    run_id = int(inserted.inserted_primary_key[0])  # type: ignore[attr-defined]
    if results:
        session.execute(
            insert(_table(MetricResultRow)), [{**r, "evaluation_id": run_id} for r in results]
        )
    return run_id


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


def call_logs(session: Session, rows: list[CallRow]) -> list[CallEvaluation]:
    """The call logs of ``rows`` (current evaluation, its results, the review), in three queries."""
    run_ids = [r.current_evaluation_id for r in rows if r.current_evaluation_id is not None]
    runs = {
        e.id: e for e in session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(run_ids)))
    }
    results: dict[int, list[MetricResultRow]] = {}
    for m in session.scalars(
        select(MetricResultRow)
        .where(MetricResultRow.evaluation_id.in_(run_ids))
        .order_by(MetricResultRow.evaluation_id, MetricResultRow.position)
    ):
        results.setdefault(m.evaluation_id, []).append(m)
    reviews = {
        v.call_pk: v
        for v in session.scalars(
            select(ReviewRow).where(ReviewRow.call_pk.in_([r.id for r in rows]))
        )
    }
    logs = []
    for row in rows:
        run = runs.get(row.current_evaluation_id or -1)
        logs.append(call_log(row, run, results.get(run.id, []) if run else [], reviews.get(row.id)))
    return logs


def _held(claim: Claim) -> Any:
    return update(CallRow).where(
        CallRow.id == claim.call_pk,
        CallRow.claim_token == claim.token,
        CallRow.evaluation_status == "evaluating",
    )


def _make_engine(url: str) -> Engine:
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine
