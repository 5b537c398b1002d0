"""The success rubric: ``success`` and ``status`` from metric results (spec metrics.md).

Every rule ``{metric, op, value}`` must hold. A rule whose metric is not applicable is
skipped; if every rule is skipped the call counts as a success. A rule whose metric failed
to evaluate leaves the outcome unknown (``None``): a failure is never read as a verdict.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evaluator.catalogue.definitions import GOAL_METRIC_ID, RubricRule
from evaluator.contract import MetricResult

__all__ = ["DEFAULT_RUBRIC", "RubricOutcome", "apply_rubric"]

DEFAULT_RUBRIC = (RubricRule(metric=GOAL_METRIC_ID, op="eq", value=True),)

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "neq": operator.ne,
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
    "in": lambda a, b: a in b,
}


@dataclass(frozen=True)
class RubricOutcome:
    success: bool | None
    reasons: tuple[str, ...]


def apply_rubric(
    rules: Sequence[RubricRule] | None, results: Mapping[str, MetricResult]
) -> RubricOutcome:
    """Decide success from the results by metric id (the default rubric when ``rules`` is None)."""
    reasons: list[str] = []
    failed: list[str] = []
    unknown: list[str] = []
    for rule in DEFAULT_RUBRIC if rules is None else rules:
        text = f"{rule.metric} {rule.op} {rule.value!r}"
        result = results.get(rule.metric)
        if result is None or result.outcome == "not_applicable":
            reasons.append(f"skipped {text}: metric not applicable or not run")
            continue
        if result.outcome == "failed":
            unknown.append(text)
            reasons.append(f"unknown {text}: the metric failed to evaluate")
            continue
        holds = _OPS[rule.op](result.answer, rule.value)
        reasons.append(f"{'holds' if holds else 'fails'}: {text} (value {result.answer!r})")
        if not holds:
            failed.append(text)
    if failed:
        return RubricOutcome(False, tuple(reasons))
    if unknown:
        return RubricOutcome(None, tuple(reasons))
    return RubricOutcome(True, tuple(reasons))
