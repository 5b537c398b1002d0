"""SQL of re-evaluation runs and of the judgment cache (the tables and their queries).

A run (``reevaluation_runs``) keeps its options and one row per selected call
(``reevaluation_items``). A call's new results are written in the same transaction that
marks its item done, and only if the item was still pending: a killed run resumed later, or
two processes resuming the same run, can never store a call twice. The judgment cache
(``judgments``) maps a request's key to the raw completion and usage that answered it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Connection,
    Engine,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.calls import Store, call_logs, insert_evaluation
from evaluator.store.tables import (
    Base,
    CallRow,
    EvaluationRow,
    MetricResultRow,
    ReviewRow,
    UTCDateTime,
)

__all__ = [
    "JudgmentRow",
    "JudgmentTable",
    "ReportRow",
    "RerunItem",
    "RerunRow",
    "RerunStore",
    "RunInfo",
]


class JudgmentRow(Base):
    __tablename__ = "judgments"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(255))
    raw_completion: Mapped[str] = mapped_column(Text)
    usage: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RerunRow(Base):
    __tablename__ = "reevaluation_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    options: Mapped[dict[str, Any]] = mapped_column(JSON)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RerunItemRow(Base):
    __tablename__ = "reevaluation_items"

    run_id: Mapped[str] = mapped_column(
        ForeignKey("reevaluation_runs.id", ondelete="CASCADE"), primary_key=True
    )
    call_pk: Mapped[int] = mapped_column(
        ForeignKey("calls.id", ondelete="CASCADE"), primary_key=True
    )
    # pending -> done (new results stored) | skipped (nothing to do) | failed (with error)
    state: Mapped[str] = mapped_column(String(16))
    before_evaluation_id: Mapped[int | None] = mapped_column(Integer)
    after_evaluation_id: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reevaluation_items_state", "run_id", "state", "call_pk"),)


def _now() -> datetime:
    return datetime.now(UTC)


class _Sessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(engine, expire_on_commit=False)
        sqlite = engine.dialect.name == "sqlite"
        self._lock: threading.Lock | None = threading.Lock() if sqlite else None
        # A SQLite file is in WAL mode (store._make_engine); an in-memory one is not.
        self._wal = sqlite and engine.url.database not in (None, "", ":memory:")

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[Connection]:
        """A Core connection in a transaction (committed on exit). SQLite in WAL mode reads
        beside a writer, so only writes take this process's lock."""
        if self._lock is None or (read_only and self._wal):
            with self.engine.begin() as conn:
                yield conn
            return
        with self._lock, self.engine.begin() as conn:
            yield conn

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self._lock is None:
            with self._factory.begin() as session:
                yield session
            return
        with self._lock, self._factory.begin() as session:
            yield session


class JudgmentTable:
    """The SQL backend of the judgment cache (sync; callers run it in a thread). Plain
    Core statements on a connection: a lookup is on every judge request's path."""

    def __init__(self, store: Store) -> None:
        self._db = _Sessions(store.engine)
        table = cast(Table, JudgmentRow.__table__)
        self._get = select(table.c.raw_completion, table.c.usage).where(
            table.c.key == bindparam("wanted")
        )
        insert = postgresql.insert if store.engine.dialect.name == "postgresql" else sqlite.insert
        self._put = insert(table).on_conflict_do_nothing()

    def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        with self._db.connection(read_only=True) as conn:
            row = conn.execute(self._get, {"wanted": key}).first()
            return None if row is None else (str(row[0]), dict(row[1]))

    def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        """Insert once; a key already there (another worker got there first) is kept."""
        self.put_many([(key, model, raw, usage)])

    def put_many(self, rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Insert several in one transaction; keys already there are kept."""
        now = _now()
        values = [
            {"key": key, "model": model, "raw_completion": raw, "usage": usage, "created_at": now}
            for key, model, raw, usage in rows
        ]
        with self._db.connection() as conn:
            conn.execute(self._put, values)

    def count(self) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.count()).select_from(JudgmentRow)) or 0)


@dataclass(frozen=True)
class RunInfo:
    id: str
    status: str
    options: dict[str, Any]
    total: int
    states: dict[str, int]


@dataclass(frozen=True)
class RerunItem:
    """A selected call with what it needs: its request and its current (before) results."""

    call_pk: int
    request: dict[str, Any]
    current: CallEvaluation
    evaluation_id: int | None


@dataclass(frozen=True)
class ReportRow:
    """One judged call of a run: its results before and after, and the human review."""

    call_pk: int
    call_id: str
    before: list[MetricResult]
    after: list[MetricResult]
    status_before: str | None
    status_after: str | None
    reviewed_status: str | None


class RerunStore:
    """Runs, their items, and the atomic write of a call's new results."""

    def __init__(self, store: Store) -> None:
        self._db = _Sessions(store.engine)

    def create_run(self, run_id: str, options: dict[str, Any]) -> None:
        now = _now()
        with self._db.session() as session:
            session.add(RerunRow(id=run_id, status="selecting", options=options, total=0,
                                 created_at=now, updated_at=now))  # fmt: skip

    def add_items(self, run_id: str, pks: list[int]) -> None:
        now = _now()
        with self._db.session() as session:
            session.add_all(
                RerunItemRow(run_id=run_id, call_pk=pk, state="pending", updated_at=now)
                for pk in pks
            )

    def set_status(self, run_id: str, status: str) -> None:
        with self._db.session() as session:
            total = session.scalar(select(func.count()).where(RerunItemRow.run_id == run_id))
            session.execute(
                update(RerunRow)
                .where(RerunRow.id == run_id)
                .values(status=status, total=total or 0, updated_at=_now())
            )

    def run(self, run_id: str) -> RunInfo | None:
        with self._db.session() as session:
            row = session.get(RerunRow, run_id)
            if row is None:
                return None
            counted = session.execute(
                select(RerunItemRow.state, func.count())
                .where(RerunItemRow.run_id == run_id)
                .group_by(RerunItemRow.state)
            )
            states = {str(state): int(n) for state, n in counted}
            return RunInfo(row.id, row.status, dict(row.options), row.total, states)

    def pending(
        self, run_id: str, *, after_pk: int = 0, limit: int = 200,
        shard: tuple[int, int] | None = None,
    ) -> list[RerunItem]:  # fmt: skip
        """A page of the run's pending calls above ``after_pk``, with their current results;
        with ``shard=(k, n)`` only the calls whose id is k modulo n (one worker process's)."""
        query = (
            select(RerunItemRow.call_pk)
            .where(RerunItemRow.run_id == run_id, RerunItemRow.state == "pending",
                   RerunItemRow.call_pk > after_pk)
            .order_by(RerunItemRow.call_pk)
            .limit(limit)
        )  # fmt: skip
        if shard is not None:
            index, count = shard
            query = query.where(RerunItemRow.call_pk % count == index)
        with self._db.session() as session:
            return _items(session, list(session.scalars(query)))

    def items(self, pks: list[int]) -> list[RerunItem]:
        """Calls by id with their current results (for a dry run, before any run exists)."""
        with self._db.session() as session:
            return _items(session, pks)

    def requeue_failed(self, run_id: str) -> None:
        """Failed items (judge unavailable, say) are tried again when a run is resumed."""
        with self._db.session() as session:
            session.execute(
                update(RerunItemRow)
                .where(RerunItemRow.run_id == run_id, RerunItemRow.state == "failed")
                .values(state="pending", error=None, updated_at=_now())
            )

    def finish_item(self, run_id: str, item: RerunItem, state: str, error: str | None) -> bool:
        """Mark a pending item skipped or failed (nothing stored)."""
        with self._db.session() as session:
            done = session.execute(
                _pending(run_id, item.call_pk).values(state=state, error=error, updated_at=_now())
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def store_result(
        self,
        run_id: str,
        item: RerunItem,
        evaluation: CallEvaluation,
        metrics: list[MetricResult],
        *,
        make_current: bool,
    ) -> bool:
        """Write the call's new run and mark its item done, in one transaction, only if the
        item is still pending. Returns False (nothing written) when it was not."""
        return (
            self.store_results(run_id, [(item, evaluation, metrics)], make_current=make_current)
            == 1
        )

    def store_results(
        self, run_id: str, judged: list[tuple[RerunItem, CallEvaluation, list[MetricResult]]],
        *, make_current: bool,
    ) -> int:  # fmt: skip
        """Write several judged calls in one transaction (one commit, not one per call). Each
        call's rows are written only if its item is claimed here, pending -> done, so a call
        another worker or process already stored is skipped. Returns how many were stored."""
        source = f"reevaluate:{run_id}"[:32]
        stored = 0
        with self._db.session() as session:
            for item, evaluation, metrics in judged:
                claimed = session.execute(
                    _pending(run_id, item.call_pk).values(
                        state="done", updated_at=_now(), before_evaluation_id=item.evaluation_id
                    )
                )
                if claimed.rowcount != 1:  # type: ignore[attr-defined]
                    continue
                run = insert_evaluation(session, item.call_pk, evaluation, metrics, source)
                session.execute(
                    update(RerunItemRow)
                    .where(RerunItemRow.run_id == run_id, RerunItemRow.call_pk == item.call_pk)
                    .values(after_evaluation_id=run)
                )
                if make_current:
                    session.execute(
                        update(CallRow).where(CallRow.id == item.call_pk)
                        .values(current_evaluation_id=run)
                    )  # fmt: skip
                stored += 1
        return stored

    def iter_report_rows(self, run_id: str, page: int = 500) -> Iterator[ReportRow]:
        """A run's judged calls with their before/after results, read page by page."""
        after = 0
        while rows := self.report_rows(run_id, after_pk=after, limit=page):
            yield from rows
            after = rows[-1].call_pk

    def report_rows(self, run_id: str, *, after_pk: int = 0, limit: int = 500) -> list[ReportRow]:
        """A page of the run's judged calls, before and after, by call id ascending."""
        with self._db.session() as session:
            items = list(
                session.scalars(
                    select(RerunItemRow)
                    .where(RerunItemRow.run_id == run_id, RerunItemRow.state == "done",
                           RerunItemRow.call_pk > after_pk)
                    .order_by(RerunItemRow.call_pk)
                    .limit(limit)
                )
            )  # fmt: skip
            run_ids = {i.before_evaluation_id for i in items} | {
                i.after_evaluation_id for i in items
            }
            runs = {
                e.id: e
                for e in session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(run_ids)))
            }
            metrics = _metrics_of(session, [r for r in run_ids if r is not None])
            calls = {
                c.id: c.call_id
                for c in session.execute(
                    select(CallRow.id, CallRow.call_id).where(
                        CallRow.id.in_([i.call_pk for i in items])
                    )
                )
            }
            reviews = {
                v.call_pk: v.status
                for v in session.scalars(
                    select(ReviewRow).where(ReviewRow.call_pk.in_([i.call_pk for i in items]))
                )
            }
            out = []
            for i in items:
                before = runs.get(i.before_evaluation_id or -1)
                after = runs.get(i.after_evaluation_id or -1)
                out.append(
                    ReportRow(
                        i.call_pk, calls.get(i.call_pk, str(i.call_pk)),
                        metrics.get(i.before_evaluation_id or -1, []),
                        metrics.get(i.after_evaluation_id or -1, []),
                        before.status if before else None, after.status if after else None,
                        reviews.get(i.call_pk),
                    )
                )  # fmt: skip
            return out


def _items(session: Session, pks: list[int]) -> list[RerunItem]:
    rows = list(session.scalars(select(CallRow).where(CallRow.id.in_(pks))))
    logs = _logs(session, rows)
    return [
        RerunItem(r.id, {**r.request, **(r.overrides or {})}, logs[r.id], r.current_evaluation_id)
        for r in sorted(rows, key=lambda r: r.id)
    ]


def _pending(run_id: str, pk: int) -> Any:
    return update(RerunItemRow).where(
        RerunItemRow.run_id == run_id,
        RerunItemRow.call_pk == pk,
        RerunItemRow.state == "pending",
    )


def _metrics_of(session: Session, run_ids: list[int]) -> dict[int, list[MetricResult]]:
    out: dict[int, list[MetricResult]] = {}
    for row in session.scalars(
        select(MetricResultRow)
        .where(MetricResultRow.evaluation_id.in_(run_ids))
        .order_by(MetricResultRow.evaluation_id, MetricResultRow.position)
    ):
        out.setdefault(row.evaluation_id, []).append(
            MetricResult(id=row.metric_id, name=row.name, type=row.type, score=row.score,
                         enum=row.enum, value=row.value, explanation=row.explanation,
                         outcome=row.outcome, error=row.error, unit=row.unit,
                         details=row.details, version=row.version, model=row.model)
        )  # fmt: skip
    return out


def _logs(session: Session, rows: list[CallRow]) -> dict[int, CallEvaluation]:
    return {row.id: log for row, log in zip(rows, call_logs(session, rows), strict=True)}
