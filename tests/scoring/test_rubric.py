"""Pure tier: every rubric operator at its boundary, the reasons it gives, and how skipped,
failed and failing rules combine (spec metrics.md: success)."""

from __future__ import annotations

from typing import Any

import pytest

from evaluator.catalogue.definitions import RubricRule
from evaluator.contract import MetricResult
from evaluator.scoring.rubric import DEFAULT_RUBRIC, apply_rubric


def scored(metric: str, answer: Any) -> MetricResult:
    if isinstance(answer, str):
        return MetricResult(id=metric, name=metric, type="enum", enum=answer, value=answer)
    kind = "boolean" if isinstance(answer, bool) else "score"
    return MetricResult(id=metric, name=metric, type=kind, score=answer)


def holds(op: str, threshold: Any, answer: Any) -> bool | None:
    rule = RubricRule(metric="m", op=op, value=threshold)  # type: ignore[arg-type]
    return apply_rubric([rule], {"m": scored("m", answer)}).success


@pytest.mark.parametrize(
    ("op", "answer", "expected"),
    [
        ("eq", 70, True), ("eq", 71, False), ("eq", 69, False),
        ("neq", 70, False), ("neq", 71, True),
        ("gt", 70, False), ("gt", 71, True), ("gt", 69, False),  # the limit itself fails
        ("gte", 70, True), ("gte", 71, True), ("gte", 69, False),  # the limit itself holds
        ("lt", 70, False), ("lt", 69, True), ("lt", 71, False),
        ("lte", 70, True), ("lte", 69, True), ("lte", 71, False),
    ],
)  # fmt: skip
def test_comparison_operators_at_the_limit(op: str, answer: int, expected: bool) -> None:
    assert holds(op, 70, answer) is expected


def test_fractional_answers_just_either_side_of_the_limit() -> None:
    assert holds("gte", 0.5, 0.5) is True
    assert holds("gte", 0.5, 0.499) is False
    assert holds("lte", 2000, 2000.0) is True
    assert holds("lt", 2000, 2000.0) is False


def test_in_and_equality_on_enum_and_boolean_answers() -> None:
    assert holds("in", ["positive", "neutral"], "neutral") is True
    assert holds("in", ["positive", "neutral"], "negative") is False
    assert holds("eq", "positive", "positive") is True
    assert holds("eq", True, True) is True
    assert holds("eq", True, False) is False
    assert holds("neq", True, False) is True


def test_reasons_say_which_rules_held_failed_or_were_skipped() -> None:
    rules = [
        RubricRule(metric="csat", op="gte", value=70),
        RubricRule(metric="sentiment", op="in", value=["positive", "neutral"]),
        RubricRule(metric="voicemail_detection", op="eq", value=False),
        RubricRule(metric="latency_avg", op="lt", value=2000),
        RubricRule(metric="relevancy", op="eq", value=True),
    ]
    results = {
        "csat": scored("csat", 70),
        "sentiment": scored("sentiment", "negative"),
        "voicemail_detection": MetricResult(
            id="voicemail_detection", name="V", type="boolean", outcome="not_applicable"
        ),
        "relevancy": MetricResult(
            id="relevancy", name="R", type="boolean", outcome="failed", error="timeout"
        ),
    }  # latency_avg was not run
    outcome = apply_rubric(rules, results)
    assert outcome.success is False  # a failing rule decides, whatever is unknown
    assert outcome.reasons == (
        "holds: csat gte 70 (value 70)",
        "fails: sentiment in ['positive', 'neutral'] (value 'negative')",
        "skipped voicemail_detection eq False: metric not applicable or not run",
        "skipped latency_avg lt 2000: metric not applicable or not run",
        "unknown relevancy eq True: the metric failed to evaluate",
    )


def test_unknown_without_a_failing_rule_leaves_success_unknown() -> None:
    rules = [RubricRule(metric="csat", op="gte", value=70),
             RubricRule(metric="relevancy", op="eq", value=True)]  # fmt: skip
    failed = MetricResult(id="relevancy", name="R", type="boolean", outcome="failed")
    outcome = apply_rubric(rules, {"csat": scored("csat", 90), "relevancy": failed})
    assert outcome.success is None
    assert outcome.reasons == (
        "holds: csat gte 70 (value 90)",
        "unknown relevancy eq True: the metric failed to evaluate",
    )


def test_a_failed_metric_does_not_stop_the_rules_after_it() -> None:
    rules = [RubricRule(metric="relevancy", op="eq", value=True),
             RubricRule(metric="csat", op="gte", value=70)]  # fmt: skip
    failed = MetricResult(id="relevancy", name="R", type="boolean", outcome="failed")
    outcome = apply_rubric(rules, {"relevancy": failed, "csat": scored("csat", 60)})
    assert outcome.success is False  # the csat rule after it still fails the call
    assert outcome.reasons[1] == "fails: csat gte 70 (value 60)"


def test_every_rule_skipped_or_none_at_all_counts_as_success() -> None:
    rules = [RubricRule(metric="csat", op="gte", value=70)]
    assert apply_rubric(rules, {}).success is True
    assert apply_rubric([], {}) == apply_rubric((), {})
    assert apply_rubric([], {}).success is True and apply_rubric([], {}).reasons == ()


def test_default_rubric_is_call_goal_achieved() -> None:
    (rule,) = DEFAULT_RUBRIC
    assert (rule.metric, rule.op, rule.value) == ("call_goal_achieved", "eq", True)
    achieved = {"call_goal_achieved": scored("call_goal_achieved", True)}
    missed = {"call_goal_achieved": scored("call_goal_achieved", False)}
    assert apply_rubric(None, achieved).success is True
    assert apply_rubric(None, missed).success is False
    assert apply_rubric(None, missed).reasons == (
        "fails: call_goal_achieved eq True (value False)",
    )
