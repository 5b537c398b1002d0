"""The review UI's call list: the list filters (``CallFilter``, metric conditions included),
search in the transcript text, sorting, a page and the count of all that match.

Transcript search is a substring match (``LIKE``, case-insensitive for ASCII on SQLite,
``ILIKE`` on PostgreSQL) over the stored transcript text; ``benchmarks/bench_ui.py`` measures
it with the metric-condition filter on 10,000 calls.

Projects: every call is in project 1 until calls carry a project (issue 14), so a principal of
another project sees no calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import func, select

from evaluator.contract import CallEvaluation
from evaluator.store.db import Database
from evaluator.store.evaluations import call_logs
from evaluator.store.rows import filtered
from evaluator.store.tables import CallRow
from evaluator.store.types import CallFilter

__all__ = ["DEFAULT_PROJECT", "SORTS", "BrowsePage", "BrowseQuery", "browse_calls"]

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
class BrowsePage:
    calls: list[CallEvaluation]
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
    with database.session() as session:
        count = select(func.count()).select_from(selected.with_only_columns(CallRow.id).subquery())
        total = session.scalar(count) or 0
        rows = session.scalars(
            selected.order_by(*order)
            .offset((query.page - 1) * query.page_size)
            .limit(query.page_size)
        ).all()
        return BrowsePage(call_logs(session, list(rows)), total, query.page, query.page_size)
