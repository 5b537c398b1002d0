"""Rows to call logs and back: the pure half of the store (no queries, no sessions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, case, exists, literal, not_, or_, select

from evaluator.contract import CallEvaluation, MetricResult, Usage, apply_overrides
from evaluator.store.scope import in_scope
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow, ReviewRow
from evaluator.store.types import EVALUATING, CallFilter, MetricCondition, NewCall

__all__ = [
    "METRIC_COLUMNS",
    "call_log",
    "call_values",
    "evaluation_values",
    "filtered",
    "metric_result",
    "request_of",
    "shown_status",
]


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
            "numeric_id": m.numeric_id,
            "number_value": _number(m.score),
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


def _number(score: Any) -> float | None:
    """A result's value as a number for metric conditions (true 1, false 0)."""
    if isinstance(score, bool):
        return 1.0 if score else 0.0
    return float(score) if isinstance(score, int | float) else None


# What ``metric_result`` reads, selected as plain columns where many rows are read at once
# (building an ORM object per row cost more than the rest of reading a call log).
METRIC_COLUMNS = (
    MetricResultRow.evaluation_id,
    MetricResultRow.metric_id,
    MetricResultRow.numeric_id,
    MetricResultRow.name,
    MetricResultRow.type,
    MetricResultRow.score,
    MetricResultRow.enum,
    MetricResultRow.value,
    MetricResultRow.explanation,
    MetricResultRow.outcome,
    MetricResultRow.error,
    MetricResultRow.unit,
    MetricResultRow.details,
    MetricResultRow.version,
    MetricResultRow.model,
)


def metric_result(row: MetricResultRow | Row[Any]) -> MetricResult:
    """A stored metric row (an ORM object, or a plain row of ``METRIC_COLUMNS``) as the
    contract's result."""
    return MetricResult(
        id=row.metric_id,
        numeric_id=row.numeric_id,
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
    results: Sequence[MetricResultRow | Row[Any]],
    review: ReviewRow | None,
) -> CallEvaluation:
    """The call log the API returns: request fields, the current run, the human review.

    ``status`` is the person's if one set it, else ``evaluating`` while an evaluation is
    pending or running, else the run's (``failure`` when no run decided success); ``success``
    is null while evaluating unless a person reviewed the call (Cekura resets it on a re-run).
    ``filtered`` applies the same rule in SQL.
    """
    request = request_of(row)
    # Any human input counts: a status, feedback, or a vote on one of its metrics.
    reviewed = review is not None
    feedback = request.get("feedback")
    if review is not None and review.feedback is not None:
        feedback = review.feedback
    evaluating = row.evaluation_status in EVALUATING
    human = review.status if review is not None else None
    machine = run.status if run is not None and run.status else "failure"
    return CallEvaluation(
        id=row.id,
        call_id=row.call_id,
        trace_id=row.trace_id,
        agent=row.agent_id,
        agent_name=row.agent_name,
        duration=row.duration,
        success=None if run is None or (evaluating and not reviewed) else run.success,
        status=human or ("evaluating" if evaluating else machine),
        is_reviewed=reviewed,
        feedback=feedback,
        metrics=[metric_result(m) for m in results],
        topic=run.topic if run else None,
        dropoff_point=run.dropoff_point if run else None,
        call_ended_reason=request.get("call_ended_reason"),
        customer_number=request.get("customer_number"),
        timestamp=row.occurred_at,
        transcript=row.transcript_text,
        transcript_object=row.transcript_object,
        evaluation=run.evaluation if run else None,
        error_message=_error_message(row, run),
        evaluation_status=row.evaluation_status,
        notes=[*(row.intake_notes or []), *(run.notes if run else [])],
        usage=Usage.model_validate(run.usage) if run and run.usage else None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def call_values(new: NewCall, key: str, now: datetime) -> dict[str, Any]:
    """The columns of a new call's row (pending: due at once, or when its hold ends)."""
    return {
        "call_id": new.call_id,
        "agent_id": new.agent_id,
        "agent_name": new.agent_name,
        "trace_id": new.trace_id,
        "body": new.body,
        "body_hash": new.body_hash,
        "request": new.request,
        "dedupe_key": key,
        "project_id": new.project_id,
        "overrides": {},
        "occurred_at": new.occurred_at,
        "duration": new.duration,
        "transcript_text": new.transcript_text,
        "transcript_object": new.transcript_object,
        "evaluation_status": "pending",
        "attempts": 0,
        "next_attempt_at": new.hold_until or now,
        "job_scope": "request",
        "created_at": now,
        "updated_at": now,
        "intake_notes": list(new.notes) or None,
    }


def filtered(where: CallFilter, project_id: int | None = None) -> Select[CallRow]:
    """The calls matching a filter that a handle of ``project_id`` sees (deleted calls and
    other projects' never do). ``status`` and ``success`` follow ``call_log``'s rule: the
    person's status first, then evaluating, then the run's."""
    query = select(CallRow).outerjoin(
        EvaluationRow, EvaluationRow.id == CallRow.current_evaluation_id
    ).outerjoin(ReviewRow, ReviewRow.call_pk == CallRow.id)  # fmt: skip
    evaluating = CallRow.evaluation_status.in_(EVALUATING)
    conditions: list[ColumnElement[bool]] = [in_scope(project_id)]
    if where.status is not None:
        conditions.append(shown_status() == where.status)
    if where.success is not None:
        shown_success = or_(not_(evaluating), ReviewRow.call_pk.is_not(None))
        conditions.append(and_(EvaluationRow.success == where.success, shown_success))
    if where.is_reviewed is not None:
        reviewed = ReviewRow.call_pk.is_not(None)
        conditions.append(reviewed if where.is_reviewed else not_(reviewed))
    conditions.extend(_plain_conditions(where))
    conditions.extend(_metric_condition(c) for c in where.metrics)
    return query.where(*conditions)


def shown_status() -> ColumnElement[str]:
    """``call_log``'s status in SQL, over calls outer-joined to their run and review."""
    return case(
        (ReviewRow.status.is_not(None), ReviewRow.status),
        (CallRow.evaluation_status.in_(EVALUATING), literal("evaluating")),
        (EvaluationRow.status == "success", literal("success")),
        else_=literal("failure"),
    )


def _plain_conditions(where: CallFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.agent_id is not None:
        conditions.append(CallRow.agent_id == where.agent_id)
    if where.project_id is not None:
        conditions.append(CallRow.project_id == where.project_id)
    if where.agent_ids is not None:
        conditions.append(CallRow.agent_id.in_(where.agent_ids))
    if where.call_pks is not None:
        conditions.append(CallRow.id.in_(where.call_pks))
    if where.occurred_from is not None:
        conditions.append(CallRow.occurred_at >= where.occurred_from)
    if where.occurred_to is not None:
        conditions.append(CallRow.occurred_at < where.occurred_to)
    if where.evaluation_status is not None:
        conditions.append(CallRow.evaluation_status == where.evaluation_status)
    if where.topic is not None:
        conditions.append(EvaluationRow.topic == where.topic)
    if where.dropoff_point is not None:
        conditions.append(EvaluationRow.dropoff_point == where.dropoff_point)
    return conditions


def _metric_condition(condition: MetricCondition) -> ColumnElement[bool]:
    """EXISTS a scored result of the metric in the call's current run that satisfies it."""
    result = MetricResultRow
    of_call = and_(
        result.evaluation_id == CallRow.current_evaluation_id,
        result.metric_id == condition.metric_id,
        result.outcome == "scored",
    )
    if condition.op == "isnull":
        found = exists().where(of_call)
        return not_(found) if condition.value else found
    values = condition.value if condition.op == "in" else [condition.value]
    textual = any(isinstance(v, str) for v in values)
    column = result.enum if textual else result.number_value
    compared = [v if textual else float(v) for v in values]
    target = compared[0]
    tests: dict[str, ColumnElement[bool]] = {
        "eq": column == target,
        "neq": column != target,
        "gt": column > target,
        "gte": column >= target,
        "lt": column < target,
        "lte": column <= target,
        "in": column.in_(compared),
    }
    test = tests[condition.op]
    return exists().where(of_call, test)
