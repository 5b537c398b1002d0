"""The call's own metric stages, around the judge: computed metrics (from the transcript's
timestamps, or the recording's voice activity when the call has one), expression triggers
(which metrics apply to this call), and derived metrics (arithmetic over other metrics'
values, after the judge). The engine (``evaluator/engine.py``) runs them in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaluator.catalogue.definitions import MetricDefinition
from evaluator.computed.base import Computed
from evaluator.computed.registry import FUNCTIONS, run_computed
from evaluator.contract import AUDIO_ONLY, MetricResult
from evaluator.ingest.audio.accuracy import FUNCTION as ACCURACY
from evaluator.ingest.audio.accuracy import transcription_accuracy
from evaluator.ingest.audio.timing import AudioValue
from evaluator.ingest.intake import PreparedCall
from evaluator.judge.schema import result_fields
from evaluator.scoring.triggers import compute_expression, evaluate_expression

__all__ = [
    "apply_expression_triggers",
    "computed_results",
    "derive",
    "not_applicable",
    "trigger_names",
]


def not_applicable(
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


def computed_results(prepared: PreparedCall) -> list[MetricResult]:
    results = []
    for metric in prepared.metrics:
        if metric.is_llm or metric.function is None:
            continue
        value, source = _measure(prepared, metric.function, metric.params)
        if value.not_applicable is not None:
            results.append(not_applicable(metric, value.not_applicable, None))
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
            skipped.append(not_applicable(metric, reason, None, trigger=True))
    return list(by_id.values()), applicable, skipped


def derive(prepared: PreparedCall, results: dict[str, MetricResult]) -> None:
    """Derived metrics, after everything they can read: exact arithmetic over other metrics'
    values (e.g. a repetition score from the judged count and the measured turns)."""
    for metric in prepared.metrics:
        if metric.method != "derived" or metric.id in results or metric.expression is None:
            continue
        names = trigger_names(prepared, list(results.values()))
        value, why = compute_expression(metric.expression, names)
        if why is not None:
            results[metric.id] = not_applicable(metric, f"not applicable: {why}", None)
            continue
        if metric.type == "boolean":
            value = bool(value)
        explanation = f"{metric.expression} = {value!r}"
        results[metric.id] = MetricResult(
            **result_fields(metric, None), score=value, explanation=explanation
        )
