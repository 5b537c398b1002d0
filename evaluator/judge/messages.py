"""The judge's messages for one request, rendered from ``prompts/judge_system.j2`` and
``prompts/judge_call.j2``.

Static parts first: the system message holds the instructions and the metric definitions
(the same for every call of an agent with the same metrics), then the agent description,
then what is specific to the call (facts, computed values, transcript), so providers'
prompt caches hit across calls. Caller-controlled text is passed only as ``Fenced`` values.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from typing import Any, Protocol

from evaluator.catalogue.definitions import AgentDefinition, MetricDefinition
from evaluator.contract import MetricResult, ObserveRequest
from evaluator.judge.schema import JudgePlan, value_description
from evaluator.judge.templates import Fenced, PromptRenderer, fenced_data, substitute_variables
from evaluator.transcript import Transcript

__all__ = ["CALL_TEMPLATE", "SYSTEM_TEMPLATE", "PreparedCall", "render_messages"]


class PreparedCall(Protocol):
    """What the messages are rendered from: a validated call with its agent and transcript
    (``ingest.intake.PreparedCall`` is one)."""

    @property
    def request(self) -> ObserveRequest: ...

    @property
    def agent(self) -> AgentDefinition: ...

    @property
    def transcript(self) -> Transcript: ...


SYSTEM_TEMPLATE = "judge_system.j2"
CALL_TEMPLATE = "judge_call.j2"


def render_messages(
    renderer: PromptRenderer,
    prepared: PreparedCall,
    plan: JudgePlan,
    computed: Sequence[MetricResult],
) -> list[dict[str, str]]:
    """``[system, user]`` messages for one judge request."""
    agent = prepared.agent
    guidance_context = _guidance_context(prepared, computed)
    system = renderer.render(
        SYSTEM_TEMPLATE,
        {
            "agent_name": agent.name,
            "metrics": [_metric_view(renderer, m, guidance_context) for m in plan.metrics],
            "include_call_fields": plan.include_call_fields,
            "topics": list(agent.topics),
            "dropoff_points": list(agent.dropoff_points),
        },
    )
    user = renderer.render(CALL_TEMPLATE, _call_context(prepared, computed))
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _metric_view(
    renderer: PromptRenderer, metric: MetricDefinition, context: dict[str, Any]
) -> dict[str, Any]:
    guidance = ""
    if metric.prompt:
        guidance = renderer.render_string(metric.prompt, context, origin=f"{metric.source}: prompt")
    elif metric.prompt_file:
        guidance = renderer.render(metric.prompt_file, context)
    applicability = None
    if metric.trigger.question:
        applicability = metric.trigger.question
    elif metric.trigger.type == "automatic":
        applicability = "is this question relevant to this call at all?"
    return {
        "id": metric.id,
        "name": metric.name,
        "description": metric.description.strip(),
        "guidance": guidance,
        "answer": value_description(metric),
        "applicability": applicability,
    }


def _description(prepared: PreparedCall) -> str:
    text, _ = substitute_variables(prepared.agent.description, prepared.request.dynamic_variables)
    return text.strip()


def _guidance_context(prepared: PreparedCall, computed: Sequence[MetricResult]) -> dict[str, Any]:
    """What a metric's own prompt template may use (spec metrics.md, "Prompts may use")."""
    request = prepared.request
    return {
        "agent": {
            "name": prepared.agent.name,
            "description": Fenced("agent_description", _description(prepared)),
        },
        "call_ended_reason": Fenced("call_ended_reason", request.call_ended_reason or ""),
        "metadata": fenced_data("metadata", request.metadata),
        "dynamic_variables": fenced_data("dynamic_variables", request.dynamic_variables),
        "date": _date(prepared),
        "timestamp": request.timestamp.isoformat() if request.timestamp else "",
        "metrics": {r.id: r.answer for r in computed if r.outcome == "scored"},
        "knowledge_base": prepared.agent.knowledge_base or "",
    }


def _call_context(prepared: PreparedCall, computed: Sequence[MetricResult]) -> dict[str, Any]:
    request = prepared.request
    return {
        "agent_description": Fenced("agent_description", _description(prepared)),
        "knowledge_base": Fenced("knowledge_base", prepared.agent.knowledge_base)
        if prepared.agent.knowledge_base
        else None,
        "date": _date(prepared),
        "call_ended_reason": Fenced("call_ended_reason", request.call_ended_reason)
        if request.call_ended_reason
        else None,
        "metadata": Fenced("metadata", request.metadata) if request.metadata else None,
        "dynamic_variables": Fenced("dynamic_variables", request.dynamic_variables)
        if request.dynamic_variables
        else None,
        "computed": [
            {"name": r.name, "value": r.score, "unit": r.unit}
            for r in computed
            if r.outcome == "scored"
        ],
        "transcript": Fenced("transcript", prepared.transcript.to_text()),
    }


def _date(prepared: PreparedCall) -> str:
    stamp = prepared.request.timestamp
    if stamp is None:
        return "unknown"
    return stamp.astimezone(UTC).date().isoformat() if stamp.tzinfo else stamp.date().isoformat()
