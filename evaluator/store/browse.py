"""The review UI's call list: the list filters (``CallFilter``, metric conditions included),
search in the transcript text, sorting, a page and the count of all that match.

Transcript search is a case-insensitive substring match over the stored transcript text,
served by an index on each database (``store/search.py``); ``benchmarks/bench_ui.py``
measures it, alone and with the metric-condition filter, on 10,000 calls.

Projects: a principal of one project sees that project's calls only (``project_id``, and the
handle's own scope).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from evaluator.contract import MetricResult
from evaluator.store.db import Database
from evaluator.store.rows import filtered, shown_status
from evaluator.store.search import transcript_matches
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
    current results (read without the transcript and body, which a list never needs, and each
    result without its explanation and details, see ``_LISTED``)."""

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


def _page(
    session: Session,
    selected: Select[Any],
    columns: tuple[Any, ...],
    order: tuple[Any, ...],
    query: BrowseQuery,
) -> tuple[list[tuple[Any, ...]], int]:
    """The page's rows and the count of all matches. With a search, one statement: the
    transcript test is the costly part when many calls match, and a separate count would run
    it over every match a second time (the count rides along as a window)."""
    paged = (
        selected.order_by(*order).offset((query.page - 1) * query.page_size).limit(query.page_size)
    )
    if query.search:
        rows = list(session.execute(paged.with_only_columns(*columns, func.count().over())))
        if rows or query.page == 1:
            return [tuple(r[:-1]) for r in rows], rows[0][-1] if rows else 0
    count = select(func.count()).select_from(selected.with_only_columns(CallRow.id).subquery())
    total = session.scalar(count) or 0
    return [tuple(r) for r in session.execute(paged.with_only_columns(*columns))], total


# What a row shows of a result (its verdict at a glance): the explanation, details and the
# rest stay unread, as the JSON decoding and objects for a page of 25 calls (some 900
# results) cost more than the query itself.
_LISTED = ("metric_id", "numeric_id", "name", "type", "score", "enum", "value", "outcome", "unit")


def _listed_results(session: Session, runs: list[int]) -> dict[int, list[MetricResult]]:
    """The results of the runs, in each run's order, with the fields a row shows."""
    results: dict[int, list[MetricResult]] = defaultdict(list)
    if not runs:
        return results
    table = MetricResultRow.__table__
    found = session.execute(
        select(table.c.evaluation_id, *(table.c[name] for name in _LISTED))
        .where(table.c.evaluation_id.in_(runs))
        .order_by(table.c.evaluation_id, table.c.position)
    )
    for run, metric_id, *rest in found:
        fields = dict(zip(_LISTED[1:], rest, strict=True))
        # Our own rows, validated when stored: built without validating them again.
        results[run].append(MetricResult.model_construct(id=metric_id, **fields))
    return results


def browse_calls(database: Database, query: BrowseQuery) -> BrowsePage:
    """One page of the calls matching ``query``, and how many match in all."""
    project = None if query.project_id is None else int(query.project_id)
    selected = filtered(query.where, project if project is not None else database.project_id)
    if query.search:
        dialect = database.engine.dialect.name
        selected = selected.where(transcript_matches(dialect, query.search))
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
        rows, total = _page(session, selected, columns, order, query)
        runs = [r[9] for r in rows if r[9] is not None]
        results = _listed_results(session, runs)
    calls = [
        ListedCall(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8],
                   results.get(r[9], []) if r[9] is not None else [])
        for r in rows
    ]  # fmt: skip
    return BrowsePage(calls, total, query.page, query.page_size)
