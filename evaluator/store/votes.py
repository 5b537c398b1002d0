"""People's labels on metrics (``metric_votes``): cast on one metric of one call, read back
per call (the API and the review UI) or per agent (agreement tables, golden-set export).

A vote marks its call reviewed. It keeps the machine's value as the voter saw it, so a later
re-evaluation does not change what the vote agreed or disagreed with.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.evaluations import call_logs
from evaluator.store.scope import live_call
from evaluator.store.tables import CallRow, MetricVoteRow, ReviewRow

__all__ = ["Vote", "VoteStore"]


@dataclass(frozen=True)
class Vote:
    """One label. ``expected_value`` is what the metric should have been (any JSON)."""

    call_pk: int
    metric_id: str
    thumbs_up: bool | None
    expected_value: Any = None
    feedback: str | None = None
    machine_value: Any = None
    voter: str | None = None
    created_at: datetime | None = None
    id: int | None = None


def _vote(row: MetricVoteRow) -> Vote:
    return Vote(row.call_pk, row.metric_id, row.thumbs_up, row.expected_value, row.feedback,
                row.machine_value, row.voter, row.created_at, row.id)  # fmt: skip


class VoteStore:
    """Votes over the store's database handle."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def add(self, vote: Vote) -> Vote:
        """Store a vote (with the call's current value of that metric) and mark the call
        reviewed; ``CallNotFoundError`` when there is no such call."""
        now = _now()
        with self._db.session() as session:
            call = live_call(session, vote.call_pk, self._db.project_id)
            current = {m.id: m.answer for m in call_logs(session, [call])[0].metrics}
            row = MetricVoteRow(
                call_pk=vote.call_pk, metric_id=vote.metric_id, thumbs_up=vote.thumbs_up,
                expected_value=vote.expected_value, feedback=vote.feedback,
                machine_value=current.get(vote.metric_id), voter=vote.voter, created_at=now,
            )  # fmt: skip
            session.add(row)
            review = session.get(ReviewRow, vote.call_pk)
            if review is None:
                session.add(ReviewRow(call_pk=vote.call_pk, created_at=now, updated_at=now))
            else:
                review.updated_at = now
            session.flush()
            return _vote(row)

    def of_call(self, pk: int) -> list[Vote]:
        """A call's votes, oldest first."""
        with self._db.session() as session:
            rows = session.scalars(
                select(MetricVoteRow)
                .join(CallRow, CallRow.id == MetricVoteRow.call_pk)
                .where(MetricVoteRow.call_pk == pk, _seen(self._db))
                .order_by(MetricVoteRow.id)
            )
            return [_vote(r) for r in rows]

    def of_agent(self, agent_id: int) -> list[Vote]:
        """Every vote on the agent's calls, oldest first (agreement, golden-set export)."""
        with self._db.session() as session:
            rows = session.scalars(
                select(MetricVoteRow)
                .join(CallRow, CallRow.id == MetricVoteRow.call_pk)
                .where(CallRow.agent_id == agent_id, _seen(self._db))
                .order_by(MetricVoteRow.id)
            )
            return [_vote(r) for r in rows]


def _seen(database: Database) -> Any:
    """Votes of calls the handle's project sees (deleted calls' votes are kept, and read)."""
    project = database.project_id
    return CallRow.project_id == project if project is not None else CallRow.id.is_not(None)
