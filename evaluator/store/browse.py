"""The review UI's call list: the list filters (``CallFilter``, metric conditions included),
search in the transcript text, sorting, a page and the count of all that match.

Transcript search is a substring match (``LIKE``, case-insensitive for ASCII on SQLite,
``ILIKE`` on PostgreSQL) over the stored transcript text; ``benchmarks/bench_ui.py`` measures
it with the metric-condition filter on 10,000 calls.

Projects: every call is in project 1 until calls carry a project (issue 14), so a principal of
another project sees no calls.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select

from evaluator.contract import MetricResult
from evaluator.store.db import Database
from evaluator.store.rows import filtered, metric_result, shown_status
from evaluator.store.tables import CallRow, EvaluationRow, MetricResultRow, ReviewRow
from evaluator.store.types import CallFilter

__all__ = ["DEFAULT_PROJECT", "SORTS", "BrowsePage", "BrowseQuery", "ListedCall", "browse_calls"]

DEFAULT_PROJECT = "1"
Sort = Literal["newest", "oldest", "agent"]
SORTS: tuple[Sort, ...] = ("newest", "oldest", "agent")


@dataclass(frozen=True)
class BrowseQuery:
    where: CallFilter = field(default_factory=CallFilter)
    search: str | None = None
    sort: Sort = "newest"
    page: int = 1
    page_size: int = 25
    project_id: str | None = None


@dataclass(frozen=True)
class ListedCall:
    """What a row of the list shows: the call, its verdict as the call log shows it, and its
    current results (read without the transcript and body, which a list never needs)."""

    id: int
    call_id: str
    timestamp: datetime
    agent: int
    agent_name: str
    status: str
    is_reviewed: bool
    topic: str | None
    dropoff_point: str | None
    metrics: list[MetricResult]


@dataclass(frozen=True)
class BrowsePage:
    calls: list[ListedCall]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def browse_calls(database: Database, query: BrowseQuery) -> BrowsePage:
    """One page of the calls matching ``query``, and how many match in all."""
    if query.project_id not in (None, DEFAULT_PROJECT):
        return BrowsePage([], 0, query.page, query.page_size)
    selected = filtered(query.where)
    if query.search:
        pattern = f"%{_escaped(query.search)}%"
        postgres = database.url.startswith("postgresql")
        text = CallRow.transcript_text
        hit = text.ilike(pattern, escape="\\") if postgres else text.like(pattern, escape="\\")
        selected = selected.where(hit)
    order = {
        "newest": (CallRow.occurred_at.desc(), CallRow.id.desc()),
        "oldest": (CallRow.occurred_at.asc(), CallRow.id.asc()),
        "agent": (CallRow.agent_id.asc(), CallRow.occurred_at.desc(), CallRow.id.desc()),
    }[query.sort]
    columns = (
        CallRow.id, CallRow.call_id, CallRow.occurred_at, CallRow.agent_id, CallRow.agent_name,
        shown_status(), ReviewRow.call_pk.is_not(None), EvaluationRow.topic,
        EvaluationRow.dropoff_point, CallRow.current_evaluation_id,
    )  # fmt: skip
    with database.session() as session:
        count = select(func.count()).select_from(selected.with_only_columns(CallRow.id).subquery())
        total = session.scalar(count) or 0
        rows = session.execute(
            selected.with_only_columns(*columns)
            .order_by(*order)
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        ).all()
        runs = [r[9] for r in rows if r[9] is not None]
        results: dict[int, list[MetricResult]] = defaultdict(list)
        if runs:
            found = session.scalars(
                select(MetricResultRow)
                .where(MetricResultRow.evaluation_id.in_(runs))
                .order_by(MetricResultRow.evaluation_id, MetricResultRow.position)
            )
            for row in found:
                results[row.evaluation_id].append(metric_result(row))
    calls = [
        ListedCall(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8],
                   results.get(r[9], []) if r[9] is not None else [])
        for r in rows
    ]  # fmt: skip
    return BrowsePage(calls, total, query.page, query.page_size)
