"""Evaluation runs and their metric results: written in the caller's transaction, read
back as call logs (current run, its results and the human review) in three queries."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from evaluator.contract import CallEvaluation, MetricResult
from evaluator.store.db import now as _now
from evaluator.store.rows import call_log, evaluation_values
from evaluator.store.tables import Base, CallRow, EvaluationRow, MetricResultRow, ReviewRow

__all__ = ["call_logs", "insert_evaluation"]


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
    """The call logs of ``rows`` (current evaluation, its results, the review), in up to
    three queries."""
    run_ids = [r.current_evaluation_id for r in rows if r.current_evaluation_id is not None]
    runs: dict[int, EvaluationRow] = {}
    results: dict[int, list[MetricResultRow]] = {}
    if run_ids:  # none (calls not judged yet): two round trips saved
        runs = {
            e.id: e
            for e in session.scalars(select(EvaluationRow).where(EvaluationRow.id.in_(run_ids)))
        }
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
