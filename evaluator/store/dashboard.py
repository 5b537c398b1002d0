"""An agent's dashboard figures over a time range: calls and success rate per day, each
metric's daily mean (booleans: the rate of true) with counts, latency percentiles per day,
the topic distribution, and the dropoff funnel over the agent's stages.

Days are UTC dates. Only live calls with a current evaluation count.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from evaluator.store.db import Database
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow

__all__ = ["DailyCalls", "Dashboard", "MetricDay", "agent_dashboard", "percentile"]

LATENCY_METRIC = "latency_avg"
PERCENTILES = (50, 90, 95)


@dataclass(frozen=True)
class DailyCalls:
    day: str
    calls: int
    succeeded: int
    judged: int

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.judged if self.judged else None


@dataclass(frozen=True)
class MetricDay:
    day: str
    mean: float
    count: int


@dataclass(frozen=True)
class Dashboard:
    days: list[DailyCalls]
    metrics: dict[str, list[MetricDay]]
    latency: list[tuple[str, dict[int, float]]]
    topics: list[tuple[str, int]]
    funnel: list[tuple[str, int]]


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def _day(value: object) -> str:
    return value.strftime("%Y-%m-%d") if isinstance(value, datetime) else str(value)[:10]


def agent_dashboard(
    database: Database, agent_id: int, start: datetime, end: datetime, stages: Sequence[str]
) -> Dashboard:
    """The figures of one agent's calls that occurred in ``[start, end)``."""
    live = (
        CallRow.agent_id == agent_id,
        CallRow.deleted_at.is_(None),
        CallRow.occurred_at >= start,
        CallRow.occurred_at < end,
    )
    current = EvaluationRow.id == CallRow.current_evaluation_id
    with database.session() as session:
        calls = session.execute(
            select(
                CallRow.occurred_at,
                EvaluationRow.success,
                EvaluationRow.topic,
                EvaluationRow.dropoff_point,
            )
            .select_from(CallRow)
            .outerjoin(EvaluationRow, current)
            .where(*live)
        ).all()
        results = session.execute(
            select(CallRow.occurred_at, MetricResultRow.metric_id, MetricResultRow.number_value)
            .select_from(CallRow)
            .join(EvaluationRow, current)
            .join(MetricResultRow, MetricResultRow.evaluation_id == EvaluationRow.id)
            .where(
                *live,
                MetricResultRow.outcome == "scored",
                MetricResultRow.number_value.is_not(None),
            )
        ).all()
    return Dashboard(
        days=_days(calls),
        metrics=_metric_days(results),
        latency=_latency(results),
        topics=Counter(t or "(none)" for *_, t, _d in calls).most_common(),
        funnel=_funnel([d for *_, d in calls], stages),
    )


def _days(calls: Sequence[Any]) -> list[DailyCalls]:
    per: dict[str, list[bool | None]] = defaultdict(list)
    for occurred, success, *_ in calls:
        per[_day(occurred)].append(success)
    return [
        DailyCalls(
            day,
            len(outcomes),
            sum(1 for s in outcomes if s),
            sum(1 for s in outcomes if s is not None),
        )
        for day, outcomes in sorted(per.items())
    ]


def _metric_days(results: Sequence[Any]) -> dict[str, list[MetricDay]]:
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for occurred, metric, value in results:
        per[metric][_day(occurred)].append(float(value))
    return {
        metric: [MetricDay(day, sum(v) / len(v), len(v)) for day, v in sorted(days.items())]
        for metric, days in sorted(per.items())
    }


def _latency(results: Sequence[Any]) -> list[tuple[str, dict[int, float]]]:
    per: dict[str, list[float]] = defaultdict(list)
    for occurred, metric, value in results:
        if metric == LATENCY_METRIC:
            per[_day(occurred)].append(float(value))
    return [(day, {p: percentile(v, p) for p in PERCENTILES}) for day, v in sorted(per.items())]


def _funnel(dropoffs: Sequence[object], stages: Sequence[str]) -> list[tuple[str, int]]:
    """Calls that reached each stage: a call that dropped off at stage i passed 0..i."""
    index = {stage: i for i, stage in enumerate(stages)}
    reached = [0] * len(stages)
    for dropoff in dropoffs:
        last = index.get(str(dropoff)) if dropoff is not None else None
        if last is None:
            continue
        for i in range(last + 1):
            reached[i] += 1
    return list(zip(stages, reached, strict=True))
