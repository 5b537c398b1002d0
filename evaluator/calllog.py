"""Cekura's call-log shapes on the wire: ``CallLogList`` (the observe response and each list
item) and ``CallLogDetail`` (one call), rendered from a ``CallEvaluation``.

A client written against Cekura reads these unchanged (shared/spec/observe-api.md): metric
items carry Cekura's integer ``id`` and output ``type``, binary scores 5/0, text where text is
expected; the detail's ``evaluation`` is ``{"metrics": [...]}`` with each item's
``explanation`` as a list of strings and ``extra``. Ours are extra fields only: the slug, the
outcome, usage, notes, evaluation status. The library and the CLI print the same shapes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from evaluator.catalogue.definitions import DEFAULT_PROJECT, AgentDefinition, Catalogue
from evaluator.contract import (
    CallEvaluation,
    CallStatus,
    EvaluationStatus,
    MetricResult,
    Outcome,
    Usage,
)

__all__ = [
    "DEFAULT_PROJECT",
    "CallLogDetail",
    "CallLogList",
    "CriticalCategory",
    "DetailContext",
    "Evaluation",
    "MetricItem",
    "MetricItemWithExplanation",
    "TranscriptItem",
    "call_log_detail",
    "call_log_list",
    "detail_context",
    "metric_item",
    "wire_type",
]

WireType = Literal["binary", "continuous_qualitative", "numeric", "enum"]
_WIRE_TYPES: dict[str, WireType] = {
    "boolean": "binary",
    "score": "continuous_qualitative",
    "numeric": "numeric",
    "enum": "enum",
}
# Cekura's legacy binary scale, which its rubrics accept: 5 pass, 0 fail.
PASS_SCORE, FAIL_SCORE = 5, 0
_PRIORITIES = {"critical": "critical", "non_critical": "non-critical"}


def wire_type(metric_type: str) -> WireType:
    """Cekura's output type of one of our metric types (boolean is ``binary``)."""
    return _WIRE_TYPES[metric_type]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TranscriptItem(_Wire):
    """One turn: Cekura's ``{role, content, timestamp}`` plus our start/end (and tool data)."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str
    timestamp: float
    start_time: float | None = None
    end_time: float | None = None


class MetricItem(_Wire):
    """A metric of a call as Cekura lists it, plus ours (``slug`` onwards)."""

    id: int
    name: str
    type: WireType
    # null only where no number is true: enum metrics, and not applicable or failed ones.
    score: int | float | None
    enum: str
    value: str
    slug: str
    passed: bool | None = None
    outcome: Outcome
    error: str | None = None
    unit: str | None = None
    version: str | None = None
    model: str | None = None


class MetricItemWithExplanation(MetricItem):
    """A metric in the detail's ``evaluation``: the reasons and Cekura's ``extra``."""

    explanation: list[str]
    extra: dict[str, Any]
    details: dict[str, Any] | None = None


class Evaluation(_Wire):
    """The detail's ``evaluation``; ``summary`` (ours) is the written evaluation."""

    metrics: list[MetricItemWithExplanation]
    summary: str = ""


class CriticalCategory(_Wire):
    """A finding of an instruction-following metric, as Cekura's critical categories."""

    category_id: int
    category: str
    deviation: float
    wrongly_marked: bool
    feedback: str
    priority: Literal["critical", "non-critical", "not_a_bug"]


class _CallLog(_Wire):
    id: int | None = None
    call_id: str
    trace_id: str
    agent: int | None
    agent_name: str
    duration: str
    success: bool | None
    status: CallStatus
    is_reviewed: bool
    feedback: str
    metrics: list[MetricItem]
    call_ended_reason: str
    customer_number: str
    timestamp: datetime | None
    error_message: str | None
    topic: str
    dropoff_point: str
    created_at: datetime | None
    updated_at: datetime | None
    transcript: str
    transcript_object: list[TranscriptItem]
    evaluation_status: EvaluationStatus
    usage: Usage | None = None
    notes: list[str] = []


class CallLogList(_CallLog):
    """The observe response and each item of a list; ``evaluation`` is the written text."""

    evaluation: str


class CallLogDetail(_CallLog):
    """``GET call-logs/{id}/``: the list's fields, ``evaluation`` as Cekura's object, and the
    call's request, recording, findings and the agent's rubric."""

    evaluation: Evaluation
    voice_recording_url: str
    critical_categories: list[CriticalCategory]
    agent_id: str
    metadata: dict[str, Any]
    dynamic_variables: dict[str, Any]
    testing_channel_index: int | None
    rubric: list[dict[str, Any]] | None
    user_generated_transcript: Any = None
    project: int | None = DEFAULT_PROJECT


@dataclass(frozen=True)
class DetailContext:
    """What a detail shows beyond the evaluation: the request it is evaluated with, the
    agent, the recording's URL and a person's transcript correction."""

    request: Mapping[str, Any]
    agent: AgentDefinition | None = None
    numbers: Mapping[str, int] = field(default_factory=dict)
    voice_recording_url: str = ""
    user_generated_transcript: Any = None
    project: int | None = None
    # The agent's channel the recording was read with (given, or detected).
    agent_channel: int | None = None


def detail_context(
    catalogue: Catalogue, request: Mapping[str, Any], agent_id: int | None, **more: Any
) -> DetailContext:
    """A ``DetailContext`` from the catalogue (the agent, if still defined, and metric ids)."""
    agent = catalogue.agents.get(agent_id) if agent_id is not None else None
    return DetailContext(request, agent, catalogue.numbers(), **more)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def metric_item(result: MetricResult, numbers: Mapping[str, int] | None = None) -> MetricItem:
    """One metric result on Cekura's wire."""
    scored = result.outcome == "scored"
    value = result.answer if scored else None
    score: int | float | None = None
    if scored and result.type == "boolean":
        score = PASS_SCORE if result.score else FAIL_SCORE
    elif scored and result.type != "enum" and not isinstance(result.score, bool):
        score = result.score
    return MetricItem(
        id=result.numeric_id or (numbers or {}).get(result.id, 0),
        name=result.name,
        type=_WIRE_TYPES[result.type],
        score=score,
        enum=_text(result.enum) if scored and result.type == "enum" else "",
        value=_text(value),
        slug=result.id,
        passed=bool(result.score) if scored and result.type == "boolean" else None,
        outcome=result.outcome,
        error=result.error,
        unit=result.unit,
        version=result.version,
        model=result.model,
    )


def _findings(result: MetricResult) -> list[dict[str, Any]]:
    found = (result.details or {}).get("findings")
    return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else []


def _explained(result: MetricResult, numbers: Mapping[str, int]) -> MetricItemWithExplanation:
    findings = _findings(result)
    reasons = [result.explanation] if result.explanation else []
    reasons += [f"{f.get('category')} ({f.get('priority')}): {f.get('evidence')}" for f in findings]
    extra: dict[str, Any] = {k: v for k, v in (result.details or {}).items() if k != "findings"}
    if findings:
        extra["categories"] = [
            {"category": f.get("category"), "deviation": f.get("evidence"),
             "priority": _PRIORITIES.get(str(f.get("priority")), "non-critical")}
            for f in findings
        ]  # fmt: skip
    item = metric_item(result, numbers).model_dump()
    return MetricItemWithExplanation(
        **item, explanation=reasons, extra=extra, details=result.details
    )


def _transcript(turns: list[dict[str, Any]]) -> list[TranscriptItem]:
    return [TranscriptItem(**{**t, "timestamp": t.get("start_time") or 0.0}) for t in turns]


def _base(call: CallEvaluation, numbers: Mapping[str, int]) -> dict[str, Any]:
    return {
        "id": call.id,
        "call_id": call.call_id,
        "trace_id": call.trace_id or "",
        "agent": call.agent,
        "agent_name": call.agent_name,
        "duration": call.duration or "",
        "success": call.success,
        "status": call.status or "failure",
        "is_reviewed": call.is_reviewed,
        "feedback": call.feedback or "",
        "metrics": [metric_item(m, numbers) for m in call.metrics],
        "call_ended_reason": call.call_ended_reason or "",
        "customer_number": call.customer_number or "",
        "timestamp": call.timestamp or call.created_at,
        "error_message": call.error_message,
        "topic": call.topic or "",
        "dropoff_point": call.dropoff_point or "",
        "created_at": call.created_at,
        "updated_at": call.updated_at,
        "transcript": call.transcript,
        "transcript_object": _transcript(call.transcript_object),
        "evaluation_status": call.evaluation_status,
        "usage": call.usage,
        "notes": list(call.notes),
    }


def call_log_list(call: CallEvaluation, numbers: Mapping[str, int] | None = None) -> CallLogList:
    """A call as the observe response and list items show it."""
    return CallLogList(**_base(call, numbers or {}), evaluation=call.evaluation or "")


def _critical_categories(metrics: list[MetricResult]) -> list[CriticalCategory]:
    found = [f for m in metrics for f in _findings(m)]
    return [
        CriticalCategory(
            category_id=index,
            category=str(f.get("category") or ""),
            deviation=1.0,  # one deviation found; Cekura's scale for it is not published
            wrongly_marked=False,
            feedback=str(f.get("evidence") or ""),
            priority=_PRIORITIES.get(str(f.get("priority")), "non-critical"),
        )
        for index, f in enumerate(found, 1)
    ]


def call_log_detail(call: CallEvaluation, context: DetailContext) -> CallLogDetail:
    """A call as ``GET call-logs/{id}/`` shows it."""
    request, agent = context.request, context.agent
    channel = request.get("main_agent_channel_index")
    if channel is None:
        channel = context.agent_channel
    assistant = request.get("assistant_id") or (agent.assistant_id if agent else None)
    rules = agent.success if agent is not None else None
    evaluation = Evaluation(
        metrics=[_explained(m, context.numbers) for m in call.metrics],
        summary=call.evaluation or "",
    )
    return CallLogDetail(
        **_base(call, context.numbers),
        evaluation=evaluation,
        # Ours once the recording is stored; until then (or never fetched) the one sent.
        voice_recording_url=context.voice_recording_url
        or str(request.get("voice_recording_url") or ""),
        critical_categories=_critical_categories(call.metrics),
        agent_id=str(assistant or call.agent or ""),
        metadata=dict(request.get("metadata") or {}),
        dynamic_variables=dict(request.get("dynamic_variables") or {}),
        testing_channel_index=None if channel is None else 1 - int(channel),
        rubric=[r.model_dump(mode="json") for r in rules] if rules is not None else None,
        user_generated_transcript=context.user_generated_transcript,
        project=context.project or (agent.project if agent is not None else DEFAULT_PROJECT),
    )
