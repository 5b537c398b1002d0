"""``evaluate_call``: the pipeline from a request to a judged call.

request → transcripts/<provider> → Transcript → computed metrics → triggers → prompts →
judge → verdicts → results (metrics[], topic, dropoff_point, success, evaluation).

The engine receives its judge and renderer; it builds neither, keeps no state, and stores
nothing. A judge failure becomes failed metric results with the reason, never a score.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from evaluator.catalogue.definitions import AgentDefinition, Catalogue, MetricDefinition
from evaluator.contract import CallEvaluation, MetricResult, ObserveRequest, Usage
from evaluator.errors import JudgeError
from evaluator.ingest.intake import PreparedCall, prepare_call
from evaluator.judge.budget import check_budget
from evaluator.judge.messages import render_messages
from evaluator.judge.schema import (
    CALL_FIELDS,
    Judge,
    JudgeAnswer,
    JudgePlan,
    JudgeRequest,
    build_response_model,
    metric_result_from_answer,
    result_fields,
)
from evaluator.judge.templates import PromptRenderer, substitute_variables
from evaluator.scoring.rubric import apply_rubric
from evaluator.scoring.stages import apply_expression_triggers, computed_results, derive
from evaluator.transcript import format_duration

__all__ = [
    "EngineOptions",
    "dry_run_requests",
    "evaluate_call",
    "evaluate_prepared",
    "finish_call",
    "judge_staged",
    "plan_requests",
    "stage_call",
]


@dataclass(frozen=True)
class EngineOptions:
    """Per-run choices that are not part of a call."""

    now: datetime | None = None
    extra_notes: tuple[str, ...] = field(default=())


async def evaluate_call(
    request: ObserveRequest,
    *,
    catalogue: Catalogue,
    judge: Judge,
    renderer: PromptRenderer,
    options: EngineOptions | None = None,
) -> CallEvaluation:
    """Judge one call. Invalid input raises ``RequestValidationError`` before any LLM call."""
    prepared = prepare_call(request, catalogue)
    return await evaluate_prepared(prepared, judge=judge, renderer=renderer, options=options)


async def evaluate_prepared(
    prepared: PreparedCall,
    *,
    judge: Judge,
    renderer: PromptRenderer,
    options: EngineOptions | None = None,
) -> CallEvaluation:
    """Judge a call already validated by ``prepare_call`` (the service stores it in between)."""
    # Computed metrics, prompt rendering and the assembly are CPU work over the whole
    # transcript: off the event loop, so a long call never stalls the service that awaits
    # this. The service can run the same two stages in a process (service/offload.py).
    staged = await asyncio.to_thread(stage_call, prepared, renderer, judge.model)
    judged = await judge_staged(staged, prepared.agent, prepared.metrics, judge)
    return await asyncio.to_thread(finish_call, prepared, judged, options)


@dataclass(frozen=True)
class StagedCall:
    """The CPU stage of an evaluation, all plain data (it crosses a process boundary): the
    computed and not-applicable results, the metric ids of each judge request with its
    rendered messages, and why the requests are refused when they exceed the budget."""

    computed: list[MetricResult]
    skipped: list[MetricResult]
    plans: list[tuple[str, ...]]
    messages: list[list[dict[str, str]]]
    over_budget: str | None


@dataclass(frozen=True)
class Judged:
    """The judge's part, plain data: results by metric id, the call's fields as text, the
    errors and the usage."""

    results: dict[str, MetricResult]
    call_fields: dict[str, str | None]
    errors: list[str]
    usage: Usage


def stage_call(prepared: PreparedCall, renderer: PromptRenderer, model: str) -> StagedCall:
    """Computed metrics, triggers, plans and rendered prompts, and the token budget check."""
    computed, skipped, plans, requests = _stage(prepared, renderer)
    over = check_budget(requests, model, prepared.limits.max_call_tokens)
    ids = [tuple(m.id for m in p.metrics) for p in plans]
    messages = [r.messages for r in requests]
    return StagedCall(computed, skipped, ids, messages, None if over is None else str(over))


async def judge_staged(
    staged: StagedCall, agent: AgentDefinition, metrics: Sequence[MetricDefinition], judge: Judge
) -> Judged:
    """Ask the judge the staged requests (none when over budget: each fails with why)."""
    by_id = {m.id: m for m in metrics}
    triggered = [by_id[i] for ids in staged.plans for i in ids]
    plans = _plans(agent, triggered)
    requests = [JudgeRequest(p.key, m, p.response_model)
                for p, m in zip(plans, staged.messages, strict=True)]  # fmt: skip
    answers: list[JudgeAnswer | str] = (
        [staged.over_budget] * len(requests)
        if staged.over_budget is not None
        else await asyncio.gather(*(_ask(judge, r) for r in requests))
    )
    results: dict[str, MetricResult] = {r.id: r for r in [*staged.computed, *staged.skipped]}
    call_fields: dict[str, Any] = {}
    errors: list[str] = []
    usage = Usage(model=judge.model)
    for plan, answer in zip(plans, answers, strict=True):
        if isinstance(answer, str):
            errors.append(answer)
            results.update({m.id: _failed(m, answer, judge.model) for m in plan.metrics})
            continue
        usage = usage.plus(answer.usage)
        results.update(_plan_results(plan, answer, judge.model))
        call_fields.update({k: v for k, v in answer.fields.items() if k in CALL_FIELDS})
        errors.extend(f"{key}: {why}" for key, why in answer.errors.items())
    texts = {"topic": _topic_text(call_fields.get("topic")),
             "dropoff_point": _dropoff_text(call_fields.get("dropoff_point")),
             "evaluation": call_fields.get("evaluation")}  # fmt: skip
    return Judged(results, texts, errors, usage)


def finish_call(
    prepared: PreparedCall, judged: Judged, options: EngineOptions | None = None
) -> CallEvaluation:
    """Derived metrics and the call's evaluation, in the order of its metrics."""
    results = dict(judged.results)
    derive(prepared, results)
    ordered = [results[m.id] for m in prepared.metrics if m.id in results]
    return _assemble(prepared, ordered, judged, options or EngineOptions())


def dry_run_requests(prepared: PreparedCall, renderer: PromptRenderer) -> list[JudgeRequest]:
    """The judge requests a call would make, rendered, without calling any model."""
    return _stage(prepared, renderer)[3]


def _stage(
    prepared: PreparedCall, renderer: PromptRenderer
) -> tuple[list[MetricResult], list[MetricResult], list[JudgePlan], list[JudgeRequest]]:
    computed = computed_results(prepared)
    computed, triggered, skipped = apply_expression_triggers(prepared, computed)
    plans = plan_requests(prepared, triggered)
    requests = [
        JudgeRequest(
            plan.key, render_messages(renderer, prepared, plan, computed), plan.response_model
        )
        for plan in plans
    ]
    return computed, skipped, plans, requests


def plan_requests(prepared: PreparedCall, metrics: Sequence[MetricDefinition]) -> list[JudgePlan]:
    """One batched request for every LLM metric that is not isolated (plus topic, dropoff
    and the written evaluation), and one request per isolated metric."""
    return _plans(prepared.agent, metrics)


def _plans(agent: AgentDefinition, metrics: Sequence[MetricDefinition]) -> list[JudgePlan]:
    batched = tuple(m for m in metrics if m.is_llm and not m.isolated)
    plans = [
        JudgePlan(
            key="call",
            metrics=batched,
            include_call_fields=True,
            response_model=build_response_model("CallJudgement", batched, agent, True),
        )
    ]
    for metric in metrics:
        if metric.is_llm and metric.isolated:
            model = build_response_model(
                f"Judgement_{metric.id.replace('-', '_')}", [metric], agent, False
            )
            plans.append(
                JudgePlan(
                    key=metric.id,
                    metrics=(metric,),
                    include_call_fields=False,
                    response_model=model,
                )
            )
    return plans


async def _ask(judge: Judge, request: JudgeRequest) -> JudgeAnswer | str:
    try:
        return await judge.answer(request)
    except JudgeError as exc:
        return str(exc)


def _failed(metric: MetricDefinition, reason: str, model: str | None) -> MetricResult:
    return MetricResult(
        **result_fields(metric, model),
        outcome="failed",
        error=reason,
        explanation=f"not evaluated: {reason}",
    )


def _plan_results(plan: JudgePlan, answer: JudgeAnswer, model: str) -> dict[str, MetricResult]:
    results = {}
    for metric in plan.metrics:
        if metric.id in answer.fields:
            results[metric.id] = metric_result_from_answer(metric, answer.fields[metric.id], model)
        else:
            reason = answer.errors.get(metric.id, "missing from the judge's answer")
            results[metric.id] = _failed(metric, reason, model)
    return results


def _assemble(
    prepared: PreparedCall, metrics: list[MetricResult], judged: Judged, opts: EngineOptions
) -> CallEvaluation:
    call_fields, errors = judged.call_fields, judged.errors
    request, agent, transcript = prepared.request, prepared.agent, prepared.transcript
    outcome = apply_rubric(agent.success, {m.id: m for m in metrics})
    now = opts.now or datetime.now(UTC)
    status = None if outcome.success is None else ("success" if outcome.success else "failure")
    return CallEvaluation(
        call_id=request.call_id,
        trace_id=request.trace_id,
        agent=agent.id,
        agent_name=agent.name,
        duration=format_duration(transcript.duration_seconds),
        success=outcome.success,
        status=status,
        feedback=request.feedback,
        metrics=metrics,
        topic=call_fields["topic"],
        dropoff_point=call_fields["dropoff_point"],
        call_ended_reason=request.call_ended_reason,
        customer_number=request.customer_number,
        timestamp=request.timestamp,
        transcript=transcript.to_text(),
        transcript_object=transcript.to_object(),
        evaluation=call_fields.get("evaluation"),
        error_message="; ".join(dict.fromkeys(errors)) or None,
        evaluation_status="failed" if errors and outcome.success is None else "evaluated",
        notes=[
            *prepared.notes,
            *transcript.notes,
            *_variable_notes(prepared),
            *outcome.reasons,
            *opts.extra_notes,
        ],
        usage=judged.usage,
        created_at=now,
        updated_at=now,
    )


def _topic_text(answer: Any) -> str | None:
    value = getattr(answer, "value", None)
    return None if value is None else str(value)[:1000]


def _dropoff_text(answer: Any) -> str | None:
    if answer is None:
        return None
    ended = {
        "naturally": "ended naturally",
        "caller_dropped_off": "caller dropped off",
        "agent_ended_early": "agent ended the call early",
    }[answer.ended]
    return f"{answer.last_stage} ({ended}): {answer.reasoning}"[:1000]


def _variable_notes(prepared: PreparedCall) -> list[str]:
    _, missing = substitute_variables(
        prepared.agent.description, prepared.request.dynamic_variables
    )
    return [f"dynamic variable {name!r} has no value; left as written" for name in missing]
