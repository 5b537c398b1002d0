"""Rows to call logs and back: the pure half of the store (no queries, no sessions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select

from evaluator.contract import CallEvaluation, MetricResult, Usage, apply_overrides
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow, ReviewRow
from evaluator.store.types import CallFilter, NewCall

__all__ = ["call_log", "call_row", "evaluation_values", "filtered", "metric_result", "request_of"]


def evaluation_values(
    pk: int,
    evaluation: CallEvaluation,
    metrics: list[MetricResult],
    source: str,
    now: datetime,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The column values of one evaluation run and of its metric rows (which get the run's
    id once it is inserted). Plain values, written with one insert each way: building ORM
    objects and flushing them cost more than the rest of storing a re-evaluated call."""
    usage = evaluation.usage
    run = {
        "call_pk": pk,
        "source": source,
        "model": usage.model if usage else None,
        "usage": usage.model_dump(mode="json") if usage else None,
        "outcome": evaluation.evaluation_status,
        "success": evaluation.success,
        "status": evaluation.status,
        "topic": evaluation.topic,
        "dropoff_point": evaluation.dropoff_point,
        "evaluation": evaluation.evaluation,
        "error_message": evaluation.error_message,
        "notes": list(evaluation.notes),
        "created_at": now,
    }
    results = [
        {
            "position": i,
            "metric_id": m.id,
            "name": m.name,
            "type": m.type,
            "score": m.score,
            "enum": m.enum,
            "value": m.value,
            "explanation": m.explanation,
            "outcome": m.outcome,
            "error": m.error,
            "unit": m.unit,
            "details": m.details,
            "version": m.version,
            "model": m.model,
        }
        for i, m in enumerate(metrics)
    ]
    return run, results


def metric_result(row: MetricResultRow) -> MetricResult:
    """A stored metric row as the contract's result."""
    return MetricResult(
        id=row.metric_id,
        name=row.name,
        type=row.type,
        score=row.score,
        enum=row.enum,
        value=row.value,
        explanation=row.explanation,
        outcome=row.outcome,
        error=row.error,
        unit=row.unit,
        details=row.details,
        version=row.version,
        model=row.model,
    )


def _error_message(row: CallRow, run: EvaluationRow | None) -> str | None:
    if row.evaluation_status == "evaluated":
        return run.error_message if run else None
    return row.last_error or (run.error_message if run else None)


def request_of(row: CallRow) -> dict[str, Any]:
    """The request the call is evaluated with (PATCHed fields applied)."""
    return apply_overrides(row.request, row.overrides)


def call_log(
    row: CallRow,
    run: EvaluationRow | None,
    results: list[MetricResultRow],
    review: ReviewRow | None,
) -> CallEvaluation:
    """The call log the API returns: request fields, the current run, the human review."""
    request = request_of(row)
    # Any human input counts: a status, feedback, or a vote on one of its metrics.
    reviewed = review is not None
    feedback = request.get("feedback")
    if review is not None and review.feedback is not None:
        feedback = review.feedback
    return CallEvaluation(
        id=row.id,
        call_id=row.call_id,
        trace_id=row.trace_id,
        agent=row.agent_id,
        agent_name=row.agent_name,
        duration=row.duration,
        success=run.success if run else None,
        status=(
            review.status
            if review is not None and review.status is not None
            else run.status
            if run
            else None
        ),
        is_reviewed=reviewed,
        feedback=feedback,
        metrics=[metric_result(m) for m in results],
        topic=run.topic if run else None,
        dropoff_point=run.dropoff_point if run else None,
        call_ended_reason=request.get("call_ended_reason"),
        customer_number=request.get("customer_number"),
        timestamp=request.get("timestamp"),
        transcript=row.transcript_text,
        transcript_object=row.transcript_object,
        evaluation=run.evaluation if run else None,
        error_message=_error_message(row, run),
        evaluation_status=row.evaluation_status,
        notes=list(run.notes) if run else [],
        usage=Usage.model_validate(run.usage) if run and run.usage else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def call_row(new: NewCall, key: str, now: datetime) -> CallRow:
    return CallRow(
        call_id=new.call_id,
        agent_id=new.agent_id,
        agent_name=new.agent_name,
        trace_id=new.trace_id,
        body=new.body,
        body_hash=new.body_hash,
        request=new.request,
        dedupe_key=key,
        overrides={},
        occurred_at=new.occurred_at,
        duration=new.duration,
        transcript_text=new.transcript_text,
        transcript_object=new.transcript_object,
        evaluation_status="pending",
        attempts=0,
        next_attempt_at=now,
        job_scope="request",
        created_at=now,
        updated_at=now,
    )


def filtered(where: CallFilter) -> Select[CallRow]:
    """The calls matching a filter (status = the reviewed status if any, else the machine's)."""
    query = select(CallRow)
    if any(v is not None for v in (where.success, where.status, where.topic)):
        query = query.outerjoin(EvaluationRow, EvaluationRow.id == CallRow.current_evaluation_id)
    conditions: list[ColumnElement[bool]] = []
    if where.status is not None:
        query = query.outerjoin(ReviewRow, ReviewRow.call_pk == CallRow.id)
        conditions.append(func.coalesce(ReviewRow.status, EvaluationRow.status) == where.status)
    if where.agent_id is not None:
        conditions.append(CallRow.agent_id == where.agent_id)
    if where.occurred_from is not None:
        conditions.append(CallRow.occurred_at >= where.occurred_from)
    if where.occurred_to is not None:
        conditions.append(CallRow.occurred_at < where.occurred_to)
    if where.success is not None:
        conditions.append(EvaluationRow.success == where.success)
    if where.evaluation_status is not None:
        conditions.append(CallRow.evaluation_status == where.evaluation_status)
    if where.topic is not None:
        conditions.append(EvaluationRow.topic == where.topic)
    return query.where(*conditions)
