"""Tenancy in the store: what a handle scoped to one project sees of the calls.

A handle (``Database.scoped(project_id)``) reads and changes only its project's calls: every
query of the calls goes through ``live_call`` (one call by id) or ``in_scope`` (a condition on
the calls table), so a call of another project is exactly as absent as a call that was never
stored (``CallNotFoundError``, answered 404). ``None`` is every project (admin keys, workers,
batch jobs).
"""

from __future__ import annotations

from sqlalchemy import ColumnElement
from sqlalchemy.orm import Session

from evaluator.store.tables import CallRow
from evaluator.store.types import CallNotFoundError

__all__ = ["in_scope", "live_call"]


def in_scope(project_id: int | None) -> ColumnElement[bool]:
    """The calls a handle of ``project_id`` may see (deleted calls never)."""
    live = CallRow.deleted_at.is_(None)
    if project_id is None:
        return live
    return live & (CallRow.project_id == project_id)


def live_call(session: Session, pk: int, project_id: int | None) -> CallRow:
    """The call, unless it does not exist, was deleted, or is of another project than
    ``project_id``: ``CallNotFoundError`` then, the same in all three cases."""
    row = session.get(CallRow, pk)
    if row is None or row.deleted_at is not None:
        raise CallNotFoundError([pk])
    if project_id is not None and row.project_id != project_id:
        raise CallNotFoundError([pk])
    return row
