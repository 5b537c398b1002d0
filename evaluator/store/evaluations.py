"""Evaluation runs and their metric results: written in the caller's transaction, read
back as call logs (current run, its results and the human review) in three queries."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Connection, Row, Table, insert, select
from sqlalchemy.orm import Session

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.db import now as _now
from evaluator.store.rows import METRIC_COLUMNS, call_log, evaluation_values
from evaluator.store.tables import Base, CallRow, EvaluationRow, MetricResultRow, ReviewRow

__all__ = ["call_logs", "insert_evaluation", "insert_evaluations"]


def insert_evaluation(
    session: Session | Connection, pk: int, evaluation: CallEvaluation,
    metrics: list[MetricResult], source: str,
) -> int:  # fmt: skip
    """Insert an evaluation run and its metric rows in the caller's transaction; its id.
    The values go as parameters of constant statements, compiled once (a multi-row
    ``values([...])`` is compiled anew every time: it doubled the web process's CPU)."""
    run, results = evaluation_values(pk, evaluation, metrics, source, _now())
    table = _table(EvaluationRow)
    run_id = int(session.execute(insert(table).returning(table.c.id), run).scalar_one())
    if results:
        session.execute(
            insert(_table(MetricResultRow)), [{**r, "evaluation_id": run_id} for r in results]
        )
    return run_id


def insert_evaluations(
    session: Session, judged: list[tuple[int, CallEvaluation, list[MetricResult]]], source: str
) -> list[int]:
    """``insert_evaluation`` for several calls at once: one multi-row insert of the runs
    (their ids returned in the order given) and one of all their metric rows."""
    if not judged:
        return []
    now = _now()
    values = [evaluation_values(pk, ev, metrics, source, now) for pk, ev, metrics in judged]
    table = _table(EvaluationRow)
    inserted = session.execute(
        insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [run for run, _ in values],
    )
    run_ids = [int(row[0]) for row in inserted]
    results = [
        {**r, "evaluation_id": run_id}
        for run_id, (_, rows) in zip(run_ids, values, strict=True)
        for r in rows
    ]
    if results:
        session.execute(insert(_table(MetricResultRow)), results)
    return run_ids


def _table(row: type[Base]) -> Table:
    return cast(Table, row.__table__)


def call_logs(session: Session, rows: list[CallRow]) -> list[CallEvaluation]:
    """The call logs of ``rows`` (current evaluation, its results, the review), in up to
    three queries."""
    run_ids = [r.current_evaluation_id for r in rows if r.current_evaluation_id is not None]
    runs: dict[int, EvaluationRow] = {}
    results: dict[int, list[Row[Any]]] = {}
    if run_ids:  # none (calls not judged yet): two round trips saved
        runs = {
            e.id: e
            for e in session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(run_ids)))
        }
        for m in session.execute(
            select(*METRIC_COLUMNS)
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
