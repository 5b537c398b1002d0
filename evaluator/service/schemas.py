"""Request and response bodies of the call-log endpoints (Cekura's components), pydantic only.

Bodies are read as Cekura's server reads them: JSON, form-urlencoded or multipart; unknown
fields ignored; null for a field with a default means the default; a list given as JSON
text, comma-separated text or a repeated form field. Wrong values are 400s naming the field.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from evaluator.calllog import CallLogList
from evaluator.contract import field_errors
from evaluator.errors import RequestValidationError

__all__ = [
    "MAX_ID",
    "CallLogPage",
    "CallLogPatch",
    "DeleteCallLogs",
    "Detail",
    "EvaluateMetrics",
    "FilterValues",
    "Health",
    "MarkMetricVote",
    "RerunEvaluation",
    "body_spec",
    "parse_body",
]

# Ids are 32-bit in the database; larger numbers cannot name a stored call.
MAX_ID = 2**31 - 1
StoredId = Annotated[int, Field(ge=1, le=MAX_ID)]
MetricRef = int | Annotated[str, Field(min_length=1, max_length=255)]
ReviewStatus = Literal["success", "failure", "reviewed_success", "reviewed_failure"]
_B = TypeVar("_B", bound=BaseModel)


class _Lenient(BaseModel):
    """Unknown fields ignored; null for a field with a default is that default."""

    model_config = ConfigDict(extra="ignore")
    # Fields whose null means something (clear it) rather than "not given".
    null_clears: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        fields = cls.model_fields
        return {
            k: v
            for k, v in data.items()
            if not (v is None and k in fields and not fields[k].is_required())
            or k in cls.null_clears
        }


def _as_list(value: Any) -> Any:
    """``[1, 2]``, ``"[1, 2]"``, ``"1,2"`` or ``7`` as a list (form bodies carry text)."""
    if isinstance(value, str) and value.strip() != "all":
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError:
                return value
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value


def parse_body(model: type[_B], data: Any) -> _B:
    """Validate a body; errors keyed by field, as every 400."""
    if not isinstance(data, dict):
        raise RequestValidationError({"non_field_errors": ["expected a JSON object"]})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(field_errors(exc)) from None


def body_spec(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that reads its body itself."""
    schema = model.model_json_schema()
    types = ("application/json", "application/x-www-form-urlencoded", "multipart/form-data")
    content = {t: {"schema": schema} for t in types}
    return {"requestBody": {"required": True, "content": content}}


class CallLogPage(BaseModel):
    """One page of call logs, newest first (Cekura's ``PaginatedCallLogListList``)."""

    count: int
    next: str | None
    previous: str | None
    results: list[CallLogList]


class CallLogPatch(_Lenient):
    """``PATCH call-logs/{id}/`` (Cekura's ``PatchedUpdateCallLog``). ``metadata`` and
    ``dynamic_variables`` are merged at the top level; a ``transcript_json`` correction is
    parsed again (``transcript_type`` omitted: detected); ``duration`` is in minutes;
    ``status`` or ``feedback`` null clears the person's."""

    call_id: str | None = Field(default=None, min_length=1, max_length=100)
    transcript_type: str | None = Field(default=None, min_length=1, max_length=32)
    transcript_json: Any = None
    timestamp: datetime | None = None
    duration: float | None = Field(default=None, ge=0, le=100_000, description="minutes")
    call_ended_reason: str | None = Field(default=None, max_length=100)
    customer_number: str | None = Field(default=None, max_length=100)
    metadata: dict[str, Any] | None = None
    dynamic_variables: dict[str, Any] | None = None
    status: ReviewStatus | None = None
    feedback: str | None = None
    reevaluate_metrics: bool = False

    null_clears = ("status", "feedback")


class MarkMetricVote(_Lenient):
    """``POST call-logs/{id}/mark_metric_vote/``: a person's vote on one metric of a call."""

    metric_id: MetricRef = Field(description="the metric's integer id (or its slug)")
    thumbs_up: bool | None
    expected_value: Any = Field(description="what the metric should have been (any JSON)")
    feedback: str | None = Field(default=None, max_length=10_000)


class Detail(BaseModel):
    """Cekura's ``{detail}`` answer (``MarkMetricVoteCallLogResponse``, 404s)."""

    detail: str


class _CallIds(_Lenient):
    call_logs: list[StoredId] = Field(min_length=1, max_length=10_000)

    @field_validator("call_logs", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _as_list(value)


class EvaluateMetrics(_CallIds):
    """Run chosen metrics (integer ids or slugs) on stored calls."""

    agent_id: StoredId | None = None
    project_id: int | None = None
    metrics: list[MetricRef] = Field(min_length=1, max_length=1000)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_list(cls, value: Any) -> Any:
        return _as_list(value)


class RerunEvaluation(_Lenient):
    """Re-run every metric on the given calls, or on all calls of the agent."""

    agent_id: StoredId | None = None
    assistant_id: int | Annotated[str, Field(min_length=1, max_length=255)] | None = None
    call_logs: list[StoredId] | Literal["all"] = Field(
        description='call log ids, or "all" for every call of the agent'
    )

    @field_validator("call_logs", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> Any:
        return _as_list(value)


class DeleteCallLogs(_CallIds):
    """Delete calls; ``retain_evaluations`` keeps their evaluations and votes."""

    agent_id: StoredId | None = None
    retain_evaluations: bool = False


class FilterValues(BaseModel):
    """``GET call-logs/filters/``: the values the stored calls hold."""

    agents: list[dict[str, Any]]
    statuses: list[str]
    topics: list[str]
    dropoff_points: list[str]
    metrics: list[dict[str, Any]]


class Health(BaseModel):
    status: Literal["ok"]
    database: Literal["ok"]
    agents: int
    metrics: int
