"""Completion webhooks owed to receivers (the ``deliveries`` table): one row per finished
call and URL, written when the call's evaluation is stored, updated after every try.

A delivery is pending until a receiver answered 2xx (``delivered``) or its tries ran out
(``failed``, with the last error). Pending deliveries whose next try is due are what the
sweeper hands to a worker again, so a delivery outlives a crash or a broker outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.tables import DeliveryRow

__all__ = ["Delivery", "DeliveryStore"]


@dataclass(frozen=True)
class Delivery:
    id: int
    call_pk: int
    url: str
    event: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


def _delivery(row: DeliveryRow) -> Delivery:
    return Delivery(row.id, row.call_pk, row.url, row.event, row.status, row.attempts,
                    row.last_error, row.next_attempt_at, row.delivered_at)  # fmt: skip


class DeliveryStore:
    """Deliveries of one database."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, call_pk: int, url: str, event: str = "call.finished") -> int:
        """Owe ``url`` the call's log; returns the delivery's id."""
        now = _now()
        with self._db.session() as session:
            row = DeliveryRow(call_pk=call_pk, url=url, event=event, status="pending",
                              attempts=0, next_attempt_at=now, created_at=now)  # fmt: skip
            session.add(row)
            session.flush()
            return row.id

    def get(self, delivery_id: int) -> Delivery | None:
        with self._db.session() as session:
            row = session.get(DeliveryRow, delivery_id)
            return None if row is None else _delivery(row)

    def of_call(self, call_pk: int) -> list[Delivery]:
        with self._db.session() as session:
            rows = session.scalars(
                select(DeliveryRow).where(DeliveryRow.call_pk == call_pk).order_by(DeliveryRow.id)
            )
            return [_delivery(r) for r in rows]

    def record_try(
        self, delivery_id: int, error: str | None, *, retry_in: float | None
    ) -> Delivery | None:
        """One try's outcome: delivered (``error`` None); else pending again in ``retry_in``
        seconds, or failed for good when ``retry_in`` is None. Only a pending delivery
        changes (a duplicate task cannot undo a success)."""
        now = _now()
        if error is None:
            values: dict[str, object] = {"status": "delivered", "delivered_at": now}
        elif retry_in is None:
            values = {"status": "failed"}
        else:
            values = {"next_attempt_at": now + timedelta(seconds=retry_in)}
        with self._db.session() as session:
            session.execute(
                update(DeliveryRow)
                .where(DeliveryRow.id == delivery_id, DeliveryRow.status == "pending")
                .values(attempts=DeliveryRow.attempts + 1, last_error=error, **values)
            )
            row = session.get(DeliveryRow, delivery_id, populate_existing=True)
            return None if row is None else _delivery(row)

    def due(self, grace_seconds: float, limit: int = 200) -> list[int]:
        """Pending deliveries whose next try is more than ``grace_seconds`` overdue (their
        task was lost): the sweeper publishes them again."""
        before = _now() - timedelta(seconds=grace_seconds)
        with self._db.session() as session:
            return list(
                session.scalars(
                    select(DeliveryRow.id)
                    .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= before)
                    .order_by(DeliveryRow.id)
                    .limit(limit)
                )
            )
