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

from evaluator.catalogue.definitions import Catalogue, MetricDefinition
from evaluator.computed.base import Computed
from evaluator.computed.registry import FUNCTIONS, run_computed
from evaluator.contract import AUDIO_ONLY, CallEvaluation, MetricResult, ObserveRequest, Usage
from evaluator.errors import JudgeError
from evaluator.ingest.audio.accuracy import FUNCTION as ACCURACY
from evaluator.ingest.audio.accuracy import transcription_accuracy
from evaluator.ingest.audio.timing import AudioValue
from evaluator.ingest.intake import PreparedCall, prepare_call
from evaluator.judge.budget import check_budget
from evaluator.judge.messages import render_messages
from evaluator.judge.schema import (
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
from evaluator.scoring.triggers import compute_expression, evaluate_expression
from evaluator.transcript import format_duration

__all__ = [
    "EngineOptions",
    "dry_run_requests",
    "evaluate_call",
    "evaluate_prepared",
    "plan_requests",
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
    opts = options or EngineOptions()
    # Computed metrics and prompt rendering are CPU work over the whole transcript: off the
    # event loop, so a long call never stalls the service that awaits this.
    staged = await asyncio.to_thread(_stage, prepared, renderer)
    computed, skipped, plans, requests = staged
    over_budget = await asyncio.to_thread(
        check_budget, requests, judge.model, prepared.limits.max_call_tokens
    )
    answers: list[JudgeAnswer | JudgeError] = (
        [over_budget] * len(requests)
        if over_budget is not None
        else await asyncio.gather(*(_ask(judge, r) for r in requests))
    )
    results: dict[str, MetricResult] = {r.id: r for r in [*computed, *skipped]}
    call_fields: dict[str, Any] = {}
    errors: list[str] = []
    usage = Usage(model=judge.model)
    for plan, answer in zip(plans, answers, strict=True):
        if isinstance(answer, JudgeError):
            errors.append(str(answer))
            results.update({m.id: _failed(m, str(answer), judge.model) for m in plan.metrics})
            continue
        usage = usage.plus(answer.usage)
        results.update(_plan_results(plan, answer, judge.model))
        call_fields.update(
            {
                k: v
                for k, v in answer.fields.items()
                if k in ("topic", "dropoff_point", "evaluation")
            }
        )
        errors.extend(f"{key}: {why}" for key, why in answer.errors.items())
    _derive(prepared, results)
    ordered = [results[m.id] for m in prepared.metrics if m.id in results]
    return _assemble(prepared, ordered, call_fields, errors, usage, opts)


def dry_run_requests(prepared: PreparedCall, renderer: PromptRenderer) -> list[JudgeRequest]:
    """The judge requests a call would make, rendered, without calling any model."""
    return _stage(prepared, renderer)[3]


def _stage(
    prepared: PreparedCall, renderer: PromptRenderer
) -> tuple[list[MetricResult], list[MetricResult], list[JudgePlan], list[JudgeRequest]]:
    computed = _computed_results(prepared)
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
    batched = tuple(m for m in metrics if m.is_llm and not m.isolated)
    plans = [
        JudgePlan(
            key="call",
            metrics=batched,
            include_call_fields=True,
            response_model=build_response_model("CallJudgement", batched, prepared.agent, True),
        )
    ]
    for metric in metrics:
        if metric.is_llm and metric.isolated:
            model = build_response_model(
                f"Judgement_{metric.id.replace('-', '_')}", [metric], prepared.agent, False
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


async def _ask(judge: Judge, request: JudgeRequest) -> JudgeAnswer | JudgeError:
    try:
        return await judge.answer(request)
    except JudgeError as exc:
        return exc


def _failed(metric: MetricDefinition, reason: str, model: str | None) -> MetricResult:
    return MetricResult(
        **result_fields(metric, model),
        outcome="failed",
        error=reason,
        explanation=f"not evaluated: {reason}",
    )


def _not_applicable(
    metric: MetricDefinition, reason: str, model: str | None, *, trigger: bool = False
) -> MetricResult:
    """``trigger``: not applicable because its trigger did not fire (Cekura's
    ``trigger_failed``), rather than for lack of what it needs."""
    details = {"trigger_failed": True} if trigger else None
    return MetricResult(
        **result_fields(metric, model),
        outcome="not_applicable",
        explanation=reason,
        details=details,
    )


def _computed_results(prepared: PreparedCall) -> list[MetricResult]:
    results = []
    for metric in prepared.metrics:
        if metric.is_llm or metric.function is None:
            continue
        value, source = _measure(prepared, metric.function, metric.params)
        if value.not_applicable is not None:
            results.append(_not_applicable(metric, value.not_applicable, None))
            continue
        details = value.details
        if source is not None:
            details = {**(details or {}), "source": source}
        results.append(
            MetricResult(
                **result_fields(metric, None),
                score=value.value,
                explanation=value.explanation,
                details=details,
            )
        )
    return results


def _measure(
    prepared: PreparedCall, function: str, params: dict[str, Any]
) -> tuple[Computed | AudioValue, str | None]:
    """A computed metric's value and where its timing came from: the recording's voice
    activity when the call has one, else the transcript's timestamps (``None``: no timing)."""
    audio = prepared.audio
    if function == ACCURACY:  # ours of the recording against the call's own transcript
        request = prepared.request
        own = request.transcript_json is not None and request.transcript_type != AUDIO_ONLY
        provider = prepared.transcript if own else None
        return transcription_accuracy(provider, prepared.heard, params), "audio"
    if audio is not None and audio.timing.measures(function):
        return audio.timing.metric(function, params), "audio"
    value = run_computed(function, prepared.transcript, params)
    timed = "timestamps" in FUNCTIONS[function].needs
    return value, ("transcript timestamps" if timed else None)


def trigger_names(prepared: PreparedCall, computed: Sequence[MetricResult]) -> dict[str, Any]:
    """What a trigger expression may read."""
    request, transcript = prepared.request, prepared.transcript
    return {
        "call_ended_reason": request.call_ended_reason,
        "customer_number": request.customer_number,
        "metadata": request.metadata,
        "dynamic_variables": request.dynamic_variables,
        "metrics": {r.id: r.answer for r in computed if r.outcome == "scored"},
        "duration_seconds": transcript.duration_seconds,
        "turn_count": len(transcript.speech_turns),
        "transcript_type": request.transcript_type,
    }


def apply_expression_triggers(
    prepared: PreparedCall, computed: Sequence[MetricResult]
) -> tuple[list[MetricResult], list[MetricDefinition], list[MetricResult]]:
    """Split the call's metrics by their expression triggers: the computed results that stay,
    the metrics that fire, and a not-applicable result for each one that does not. The
    caller's ``computed`` is left as it was."""
    names = trigger_names(prepared, computed)
    applicable: list[MetricDefinition] = []
    skipped: list[MetricResult] = []
    by_id = {r.id: r for r in computed}
    for metric in prepared.metrics:
        expression = metric.trigger.expression
        if expression is None:
            applicable.append(metric)
            continue
        decision = evaluate_expression(expression, names)
        if decision.fires:
            applicable.append(metric)
        else:
            by_id.pop(metric.id, None)
            reason = f"not applicable: {decision.reason}"
            skipped.append(_not_applicable(metric, reason, None, trigger=True))
    return list(by_id.values()), applicable, skipped


def _plan_results(plan: JudgePlan, answer: JudgeAnswer, model: str) -> dict[str, MetricResult]:
    results = {}
    for metric in plan.metrics:
        if metric.id in answer.fields:
            results[metric.id] = metric_result_from_answer(metric, answer.fields[metric.id], model)
        else:
            reason = answer.errors.get(metric.id, "missing from the judge's answer")
            results[metric.id] = _failed(metric, reason, model)
    return results


def _derive(prepared: PreparedCall, results: dict[str, MetricResult]) -> None:
    """Derived metrics, after everything they can read: exact arithmetic over other metrics'
    values (e.g. a repetition score from the judged count and the measured turns)."""
    for metric in prepared.metrics:
        if metric.method != "derived" or metric.id in results or metric.expression is None:
            continue
        names = trigger_names(prepared, list(results.values()))
        value, why = compute_expression(metric.expression, names)
        if why is not None:
            results[metric.id] = _not_applicable(metric, f"not applicable: {why}", None)
            continue
        if metric.type == "boolean":
            value = bool(value)
        explanation = f"{metric.expression} = {value!r}"
        results[metric.id] = MetricResult(
            **result_fields(metric, None), score=value, explanation=explanation
        )


def _assemble(
    prepared: PreparedCall,
    metrics: list[MetricResult],
    call_fields: dict[str, Any],
    errors: list[str],
    usage: Usage,
    opts: EngineOptions,
) -> CallEvaluation:
    request, agent, transcript = prepared.request, prepared.agent, prepared.transcript
    outcome = apply_rubric(agent.success, {m.id: m for m in metrics})
    topic = call_fields.get("topic")
    dropoff = call_fields.get("dropoff_point")
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
        topic=_topic_text(topic),
        dropoff_point=_dropoff_text(dropoff),
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
        usage=usage,
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
