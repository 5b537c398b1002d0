"""The query of ``GET call-logs/`` and ``export_call_logs/``: Cekura's filters (``agent_id``,
``assistant_id``, ``call_ids``, ``project_id``, ``timestamp_from``/``_to``, ``filters_v2``) and
ours (``success``, ``status``, ``topic``, ``dropoff_point``, ``is_reviewed``,
``evaluation_status``, and metric conditions ``metric=<id|slug>:<op>:<value>``), read into
one ``CallFilter``. An unknown query parameter is a 400 naming it.

There are no projects yet: every call is in project 1, so ``project_id=1`` matches every call
and any other project none (a tenancy change will give the parameter its meaning).
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import Query, Request

from evaluator.calllog import DEFAULT_PROJECT
from evaluator.catalogue.definitions import Catalogue
from evaluator.errors import RequestValidationError, UnknownIdError
from evaluator.service.deps import ServiceDep
from evaluator.service.schemas import MAX_ID
from evaluator.store.types import CallFilter, ConditionOp, MetricCondition

__all__ = ["LIST_PARAMS", "call_filter", "condition", "read_filters_v2", "reject_unknown"]

ShownStatus = Literal["success", "failure", "reviewed_success", "reviewed_failure", "evaluating"]
NoNul = Query(max_length=1000, pattern=r"^[^\x00]*$")
OPS: tuple[str, ...] = get_args(ConditionOp)
_ORDERED = ("gt", "gte", "lt", "lte")
_CALL_FIELDS = ("agent_id", "status", "success", "topic", "dropoff_point", "is_reviewed")


def reject_unknown(request: Request, allowed: tuple[str, ...]) -> None:
    """A query parameter this route does not take is a 400 naming it (never ignored)."""
    unknown = [name for name in request.query_params if name not in allowed]
    if unknown:
        known = ", ".join(allowed)
        raise RequestValidationError(
            {name: [f"unknown query parameter; this route takes {known}"] for name in unknown}
        )


async def call_filter(
    service: ServiceDep,
    agent_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    assistant_id: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    call_ids: Annotated[
        str | None, Query(min_length=1, max_length=100_000, description="comma-separated ids")
    ] = None,
    project_id: Annotated[int | None, Query(description="every call is in project 1")] = None,
    timestamp_from: Annotated[datetime | None, Query(description="calls at or after")] = None,
    timestamp_to: Annotated[datetime | None, Query(description="calls before")] = None,
    success: bool | None = None,
    status: ShownStatus | None = None,
    evaluation_status: Literal["pending", "evaluating", "evaluated", "failed"] | None = None,
    topic: Annotated[str | None, NoNul] = None,
    dropoff_point: Annotated[str | None, NoNul] = None,
    is_reviewed: bool | None = None,
    metric: Annotated[
        list[str] | None, Query(max_length=50, description="<id|slug>:<op>:<value>, repeatable")
    ] = None,
    filters_v2: Annotated[str | None, Query(min_length=1, max_length=10_000)] = None,
) -> CallFilter:
    """The list filters as one ``CallFilter`` (a FastAPI dependency)."""
    catalogue = service.definitions.catalogue
    agents = _agents(catalogue, agent_id, assistant_id)
    where = CallFilter(
        occurred_from=timestamp_from, occurred_to=timestamp_to, success=success,
        status=status, evaluation_status=evaluation_status, topic=topic,
        dropoff_point=dropoff_point, is_reviewed=is_reviewed, agent_ids=agents,
        call_pks=_ids(call_ids),
        metrics=tuple(_metric_param(catalogue, text) for text in metric or ()),
    )  # fmt: skip
    if project_id is not None and project_id != DEFAULT_PROJECT:
        where = replace(where, call_pks=())
    if filters_v2 is not None:
        where = read_filters_v2(catalogue, where, filters_v2)
    return where


LIST_PARAMS = tuple(
    name for name in call_filter.__annotations__ if name not in ("service", "return")
)


def _agents(catalogue: Catalogue, agent_id: int | None, assistant: str | None) -> Any:
    if assistant is None:
        return None if agent_id is None else (agent_id,)
    try:
        resolved = catalogue.agent_by_assistant(assistant).id
    except UnknownIdError as exc:
        raise RequestValidationError({"assistant_id": [str(exc)]}) from None
    return (resolved,) if agent_id in (None, resolved) else ()


def _ids(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not all(p.isdigit() and 1 <= int(p) <= MAX_ID for p in parts):
        raise RequestValidationError({"call_ids": ["expected comma-separated call log ids"]})
    return tuple(int(p) for p in parts)


def _metric_param(catalogue: Catalogue, text: str) -> MetricCondition:
    ref, _, rest = text.partition(":")
    op, _, value = rest.partition(":")
    if op not in OPS:
        raise RequestValidationError(
            {"metric": [f"{text!r}: expected <id|slug>:<op>:<value>, op one of {', '.join(OPS)}"]}
        )
    values: Any = value.split(",") if op == "in" else value
    return condition(catalogue, ref, op, values, "metric")


def condition(
    catalogue: Catalogue, ref: int | str, op: str, value: Any, field: str
) -> MetricCondition:
    """A condition on a metric, its value read by the metric's type (400 naming ``field``)."""
    try:
        metric = catalogue.metric(ref)
    except UnknownIdError as exc:
        raise RequestValidationError({field: [str(exc)]}) from None
    if op not in OPS:
        raise RequestValidationError({field: [f"op {op!r} is not one of {', '.join(OPS)}"]})
    if op == "isnull":
        return MetricCondition(metric.id, "isnull", _bool(value, field))
    if metric.type in ("boolean", "enum") and op in _ORDERED:
        raise RequestValidationError({field: [f"op {op} needs a score or numeric metric"]})
    values = value if isinstance(value, list) else [value]
    read = [_typed(metric.type, metric.enum_values, v, field) for v in values]
    return MetricCondition(metric.id, op, read if op == "in" else read[0])  # type: ignore[arg-type]


def _typed(kind: str, choices: tuple[str, ...] | None, value: Any, field: str) -> Any:
    if kind == "boolean":
        # Cekura's binary scores are 5 (pass) and 0 (fail).
        return _bool({"5": True, "0": False}.get(str(value), value), field)
    if kind == "enum":
        if str(value) not in (choices or ()):
            raise RequestValidationError(
                {field: [f"{value!r} is not one of {', '.join(choices or ())}"]}
            )
        return str(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RequestValidationError({field: [f"{value!r} is not a number"]}) from None


def _bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise RequestValidationError({field: [f"{value!r} is not true or false"]})


def read_filters_v2(catalogue: Catalogue, where: CallFilter, text: str) -> CallFilter:
    """Cekura's ``filters_v2``: ``{field, op, value}`` or ``{operator: "and", conditions}``
    over the list's call fields (``eq``; ``timestamp`` with gt/gte/lt/lte) and metrics
    (``metric:<id|slug>``, any op). ``or`` is not supported: a 400 says so."""
    try:
        tree = json.loads(text)
    except ValueError:
        raise RequestValidationError({"filters_v2": ["expected JSON"]}) from None
    for node in _leaves(tree):
        where = _apply(catalogue, where, node)
    return where


def _leaves(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, dict) and "conditions" in node:
        if str(node.get("operator", "and")).lower() != "and":
            raise RequestValidationError({"filters_v2": ["only the operator and is supported"]})
        children = node["conditions"]
        if not isinstance(children, list):
            raise RequestValidationError({"filters_v2": ["conditions: expected a list"]})
        return [leaf for child in children for leaf in _leaves(child)]
    if not isinstance(node, dict) or not isinstance(node.get("field"), str):
        raise RequestValidationError({"filters_v2": ['expected {"field", "op", "value"}']})
    return [node]


def _apply(catalogue: Catalogue, where: CallFilter, node: dict[str, Any]) -> CallFilter:
    field, op, value = node["field"], str(node.get("op", "eq")), node.get("value")
    for prefix in ("metric:", "metrics.", "metric."):
        if field.startswith(prefix):
            found = condition(catalogue, field.removeprefix(prefix), op, value, "filters_v2")
            return replace(where, metrics=(*where.metrics, found))
    if field == "timestamp" and op in _ORDERED:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            raise RequestValidationError(
                {"filters_v2": [f"{value!r} is not a date-time"]}
            ) from None
        if op in ("gt", "gte"):
            return replace(where, occurred_from=moment)
        return replace(where, occurred_to=moment)
    if field not in _CALL_FIELDS or op != "eq":
        fields = ", ".join((*_CALL_FIELDS, "timestamp", "metric:<id|slug>"))
        raise RequestValidationError(
            {"filters_v2": [f"{field} {op}: not a supported condition; fields: {fields}"]}
        )
    if field == "agent_id":
        if not str(value).isdigit():
            raise RequestValidationError({"filters_v2": [f"agent_id {value!r} is not an id"]})
        return replace(where, agent_ids=(int(str(value)),))
    if field == "success":
        return replace(where, success=_bool(value, "filters_v2"))
    if field == "is_reviewed":
        return replace(where, is_reviewed=_bool(value, "filters_v2"))
    if field == "status":
        return replace(where, status=str(value))
    if field == "topic":
        return replace(where, topic=str(value))
    return replace(where, dropoff_point=str(value))
