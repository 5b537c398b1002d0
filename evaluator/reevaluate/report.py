"""What a re-evaluation changed, per metric: built from a run's before/after pairs.

Booleans and enums get a flip table (before value -> after value, counted); scores and
numbers get their mean and distribution before and after. Every call whose value changed is
listed with both values and the new explanation, beside the human-reviewed status (which a
re-evaluation never overwrites). Pairs are read in pages and folded into counters, so a
report over any number of calls takes the same memory, apart from the listed flips.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from evaluator.contract import MetricResult
from evaluator.store.reruns import ReportRow

__all__ = ["Flip", "MetricChange", "Report", "build_report", "label_of"]

MISSING = "(none)"


def label_of(result: MetricResult | None) -> str:
    """A result as one comparable label: the value, or why there is none."""
    if result is None:
        return MISSING
    if result.outcome != "scored":
        return result.outcome
    value = result.answer
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(result: MetricResult | None) -> float | None:
    if result is None or result.outcome != "scored" or result.type not in ("score", "numeric"):
        return None
    value = result.score
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Flip:
    """One call whose value of one metric changed."""

    call_pk: int
    call_id: str
    metric_id: str
    before: str
    after: str
    explanation: str
    reviewed_status: str | None
    status_before: str | None
    status_after: str | None


@dataclass
class _Stats:
    count: int = 0
    total: float = 0.0
    histogram: Counter[str] = field(default_factory=Counter)

    def add(self, value: float) -> None:
        self.count += 1
        self.total += value
        self.histogram[f"{value:g}"] += 1

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None


@dataclass
class MetricChange:
    """One metric across a run: how many calls it was compared on, changed, and how."""

    id: str
    name: str
    type: str
    compared: int = 0
    changed: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    before: _Stats = field(default_factory=_Stats)
    after: _Stats = field(default_factory=_Stats)
    flips: list[Flip] = field(default_factory=list)

    @property
    def mean_shift(self) -> float | None:
        if self.before.mean is None or self.after.mean is None:
            return None
        return self.after.mean - self.before.mean

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "type": self.type,
            "compared": self.compared, "changed": self.changed,
            "flip_table": [{"before": b, "after": a, "calls": n}
                           for (b, a), n in sorted(self.transitions.items())],
            "mean_before": self.before.mean, "mean_after": self.after.mean,
            "mean_shift": self.mean_shift,
            "distribution_before": dict(self.before.histogram),
            "distribution_after": dict(self.after.histogram),
            "flipped_calls": [f.__dict__ for f in self.flips],
        }  # fmt: skip


@dataclass
class Report:
    run_id: str
    calls: int = 0
    status_changed: int = 0
    reviewed: int = 0
    metrics: dict[str, MetricChange] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "calls": self.calls,
                "status_changed": self.status_changed, "reviewed_calls": self.reviewed,
                "metrics": [m.to_json() for m in self.metrics.values()]}  # fmt: skip

    def flips(self) -> Iterator[Flip]:
        for metric in self.metrics.values():
            yield from metric.flips


def build_report(run_id: str, rows: Iterable[ReportRow], flips_per_metric: int = 500) -> Report:
    """Fold before/after pairs into per-metric changes (only metrics judged in the run)."""
    report = Report(run_id)
    for row in rows:
        report.calls += 1
        report.status_changed += row.status_before != row.status_after
        report.reviewed += row.reviewed_status is not None
        before = {m.id: m for m in row.before}
        for new in row.after:
            _fold(report, row, before.get(new.id), new, flips_per_metric)
    return report


def _fold(
    report: Report, row: ReportRow, old: MetricResult | None, new: MetricResult, limit: int
) -> None:
    change = report.metrics.get(new.id)
    if change is None:
        change = report.metrics[new.id] = MetricChange(new.id, new.name, new.type)
    change.compared += 1
    was, now = label_of(old), label_of(new)
    change.transitions[(was, now)] += 1
    for stats, result in ((change.before, old), (change.after, new)):
        number = _number(result)
        if number is not None:
            stats.add(number)
    if was == now:
        return
    change.changed += 1
    if len(change.flips) < limit:
        change.flips.append(
            Flip(row.call_pk, row.call_id, new.id, was, now, new.explanation,
                 row.reviewed_status, row.status_before, row.status_after)
        )  # fmt: skip
