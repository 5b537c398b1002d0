"""SQL of re-evaluation runs (their tables are in ``store.tables``).

A run (``reevaluation_runs``) keeps its options and one row per selected call
(``reevaluation_items``). A call's new results are written in the same transaction that
marks its item done, and only if the item was still pending: a killed run resumed later, or
two processes resuming the same run, can never store a call twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Table,
    bindparam,
    func,
    select,
    update,
)
from sqlalchemy.orm import Session

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.calls import Store
from evaluator.store.db import now as _now
from evaluator.store.evaluations import call_logs, insert_evaluations
from evaluator.store.rows import METRIC_COLUMNS, metric_result, request_of
from evaluator.store.tables import (
    Base,
    CallRow,
    EvaluationRow,
    MetricResultRow,
    RerunItemRow,
    RerunRow,
    ReviewRow,
)

__all__ = [
    "ReportRow",
    "RerunItem",
    "RerunRow",
    "RerunStore",
    "RunInfo",
]


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
        self._db = store

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

    def cancel(self, run_id: str) -> bool:
        """Stop a run: chunks not yet started skip it, its pending items stay pending (for
        ``--resume``). False when there is no such run or it had finished."""
        with self._db.session() as session:
            done = session.execute(
                update(RerunRow)
                .where(RerunRow.id == run_id, RerunRow.status.in_(("selecting", "running")))
                .values(status="cancelled", updated_at=_now())
            )
            return bool(done.rowcount == 1)  # type: ignore[attr-defined]

    def pending_ids(self, run_id: str, *, after_pk: int = 0, limit: int = 200) -> list[int]:
        """A page of the run's pending call ids above ``after_pk`` (to publish as chunks)."""
        with self._db.session() as session:
            return list(session.scalars(
                select(RerunItemRow.call_pk)
                .where(RerunItemRow.run_id == run_id, RerunItemRow.state == "pending",
                       RerunItemRow.call_pk > after_pk)
                .order_by(RerunItemRow.call_pk).limit(limit)
            ))  # fmt: skip

    def status(self, run_id: str) -> str | None:
        """The run's status alone (None: no such run), without counting its items."""
        with self._db.session() as session:
            return session.scalar(select(RerunRow.status).where(RerunRow.id == run_id))

    def options(self, run_id: str) -> dict[str, Any] | None:
        """The run's options alone (None: no such run), without counting its items."""
        with self._db.session() as session:
            found = session.scalar(select(RerunRow.options).where(RerunRow.id == run_id))
            return None if found is None else dict(found)

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
        shard: tuple[int, int] | None = None, only: frozenset[int] | None = None,
    ) -> list[RerunItem]:  # fmt: skip
        """A page of the run's pending calls above ``after_pk``, with their current results;
        with ``shard=(k, n)`` only the calls whose id is k modulo n (one worker process's),
        with ``only`` only those calls (one Celery chunk's)."""
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
        if only is not None:
            query = query.where(RerunItemRow.call_pk.in_(sorted(only)))
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

    def fail_pending(self, run_id: str, pks: list[int], error: str) -> int:
        """Mark those of ``pks`` still pending failed with ``error`` (a Celery chunk that could
        not finish: its run ends, and ``--resume`` tries them again); how many."""
        with self._db.session() as session:
            done = session.execute(
                update(RerunItemRow)
                .where(RerunItemRow.run_id == run_id, RerunItemRow.state == "pending",
                       RerunItemRow.call_pk.in_(pks))
                .values(state="failed", error=error, updated_at=_now())
            )  # fmt: skip
            return int(done.rowcount)  # type: ignore[attr-defined]

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
        another worker or process already stored is skipped. Returns how many were stored.
        A handful of statements per batch, not four per call: the claim returns the calls
        it took, their runs and metric rows go in one insert each, the links in one
        executemany."""
        source = f"reevaluate:{run_id}"[:32]
        first: dict[int, tuple[RerunItem, CallEvaluation, list[MetricResult]]] = {}
        for entry in judged:  # a call given twice is stored once, as by one claim each
            first.setdefault(entry[0].call_pk, entry)
        if not first:
            return 0
        items = _table(RerunItemRow)
        now = _now()
        with self._db.session() as session:
            claimed = set(
                session.scalars(
                    update(items)
                    .where(items.c.run_id == run_id, items.c.state == "pending",
                           items.c.call_pk.in_(sorted(first)))
                    .values(state="done", updated_at=now)
                    .returning(items.c.call_pk)
                )
            )  # fmt: skip
            mine = [first[pk] for pk in first if pk in claimed]
            if not mine:
                return 0
            runs = insert_evaluations(
                session, [(item.call_pk, ev, metrics) for item, ev, metrics in mine], source
            )
            session.execute(
                update(items)
                .where(items.c.run_id == run_id, items.c.call_pk == bindparam("pk"))
                .values(before_evaluation_id=bindparam("before"),
                        after_evaluation_id=bindparam("after")),
                [{"pk": item.call_pk, "before": item.evaluation_id, "after": run}
                 for (item, _, _), run in zip(mine, runs, strict=True)],
            )  # fmt: skip
            if make_current:
                calls = _table(CallRow)
                session.execute(
                    update(calls).where(calls.c.id == bindparam("pk"))
                    .values(current_evaluation_id=bindparam("run")),
                    [{"pk": item.call_pk, "run": run}
                     for (item, _, _), run in zip(mine, runs, strict=True)],
                )  # fmt: skip
            return len(mine)

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
        RerunItem(r.id, request_of(r), logs[r.id], r.current_evaluation_id)
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
    for row in session.execute(
        select(*METRIC_COLUMNS)
        .where(MetricResultRow.evaluation_id.in_(run_ids))
        .order_by(MetricResultRow.evaluation_id, MetricResultRow.position)
    ):
        out.setdefault(row.evaluation_id, []).append(metric_result(row))
    return out


def _logs(session: Session, rows: list[CallRow]) -> dict[int, CallEvaluation]:
    return {row.id: log for row, log in zip(rows, call_logs(session, rows), strict=True)}


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)
