"""Alerts (rules on one metric), their firings, and the metric history a rule is judged on.

The rule itself is pure (``evaluator.scoring.alerts``); this module keeps the configuration
as the API gave it, counts firings, and remembers the last delivery for the cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Table, delete, select

from evaluator.errors import EvaluatorError
from evaluator.scoring.alerts import in_cooldown
from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.rows import filtered
from evaluator.store.tables import AlertFiringRow, AlertRow, CallRow, MetricResultRow
from evaluator.store.types import CallFilter

__all__ = ["ALERT_FIELDS", "Alert", "AlertFiring", "AlertNotFoundError", "AlertStore", "NewFiring"]

ALERT_FIELDS = (
    "name",
    "enabled",
    "project",
    "source_type",
    "source_id",
    "source",
    "threshold",
    "notifications",
)


class AlertNotFoundError(EvaluatorError):
    def __init__(self, alert_id: int) -> None:
        self.alert_id = alert_id
        super().__init__(f"no alert with id {alert_id}")


@dataclass(frozen=True)
class Alert:
    id: int
    name: str
    enabled: bool
    project: int
    source_type: str
    source_id: int | None
    source: dict[str, Any]
    threshold: dict[str, Any]
    notifications: dict[str, Any]
    trigger_count: int
    last_triggered_at: datetime | None
    last_delivered_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class NewFiring:
    alert_id: int
    call_pk: int | None
    metric_id: str
    value: float | None
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    delivery: str = "pending"
    delivery_error: str | None = None


@dataclass(frozen=True)
class AlertFiring(NewFiring):
    id: int = 0
    fired_at: datetime | None = None


def _alert(row: AlertRow | Row[Any]) -> Alert:
    return Alert(**{name: getattr(row, name) for name in Alert.__dataclass_fields__})


def _table(row: type[AlertRow]) -> Table:
    return cast(Table, row.__table__)


def _firing(row: AlertFiringRow) -> AlertFiring:
    return AlertFiring(**{name: getattr(row, name) for name in AlertFiring.__dataclass_fields__})


class AlertStore:
    """Alerts over the store's database handle."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, values: dict[str, Any]) -> Alert:
        now = _now()
        with self._db.session() as session:
            row = AlertRow(
                **{k: values[k] for k in ALERT_FIELDS},
                trigger_count=0,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return _alert(row)

    def list_alerts(
        self, *, enabled: bool | None = None, project: int | None = None
    ) -> list[Alert]:
        # Core rows, read in one statement: the worker asks after every call it judges
        # (on PostgreSQL one round trip, not BEGIN, SELECT, COMMIT).
        query = select(*_table(AlertRow).columns).order_by(AlertRow.id)
        if enabled is not None:
            query = query.where(AlertRow.enabled == enabled)
        if project is not None:
            query = query.where(AlertRow.project == project)
        with self._db.statement(read_only=True) as conn:
            return [_alert(r) for r in conn.execute(query)]

    def get(self, alert_id: int) -> Alert:
        with self._db.session() as session:
            return _alert(_row(session.get(AlertRow, alert_id), alert_id))

    def update(self, alert_id: int, values: dict[str, Any]) -> Alert:
        """Set the given fields (of ``ALERT_FIELDS``); the rest stay."""
        with self._db.session() as session:
            row = _row(session.get(AlertRow, alert_id), alert_id)
            for name in ALERT_FIELDS:
                if name in values:
                    setattr(row, name, values[name])
            row.updated_at = _now()
            session.flush()
            return _alert(row)

    def delete(self, alert_id: int) -> None:
        with self._db.session() as session:
            _row(session.get(AlertRow, alert_id), alert_id)
            session.execute(delete(AlertRow).where(AlertRow.id == alert_id))

    def record_firing(
        self, firing: NewFiring, *, deliver: bool, cooldown_seconds: float
    ) -> AlertFiring:
        """Keep a firing and count it on its alert. Its delivery is decided here, with the
        alert's row locked, so two calls finishing together cannot both pass the cool-down:
        ``none`` (no destination), ``cooldown`` (held back) or ``sending``."""
        now = _now()
        with self._db.session() as session:
            alert = session.scalars(
                select(AlertRow).where(AlertRow.id == firing.alert_id).with_for_update()
            ).first()
            alert = _row(alert, firing.alert_id)
            held = in_cooldown(alert.last_delivered_at, now, cooldown_seconds)
            delivery = "none" if not deliver else "cooldown" if held else "sending"
            row = AlertFiringRow(**{**firing.__dict__, "delivery": delivery}, fired_at=now)
            session.add(row)
            alert.trigger_count = (alert.trigger_count or 0) + 1
            alert.last_triggered_at = now
            if delivery == "sending":
                alert.last_delivered_at = now
            session.flush()
            return _firing(row)

    def set_delivery(self, firing_id: int, delivery: str, error: str | None) -> None:
        with self._db.session() as session:
            row = session.get(AlertFiringRow, firing_id)
            if row is not None:
                row.delivery, row.delivery_error = delivery, error

    def firings(self, alert_id: int | None = None, *, limit: int = 100) -> list[AlertFiring]:
        """The newest firings first, of one alert or of all."""
        query = select(AlertFiringRow).order_by(AlertFiringRow.id.desc()).limit(limit)
        if alert_id is not None:
            query = query.where(AlertFiringRow.alert_id == alert_id)
        with self._db.session() as session:
            return [_firing(r) for r in session.scalars(query)]

    def metric_history(
        self, metric_id: str, where: CallFilter, *, up_to_call: int, limit: int
    ) -> list[float]:
        """The metric's scored values in the current runs of the calls ``where`` selects,
        oldest first: the last ``limit`` of them up to and including ``up_to_call``'s run."""
        with self._db.session() as session:
            run = session.scalar(
                select(CallRow.current_evaluation_id).where(CallRow.id == up_to_call)
            )
            if run is None:
                return []
            query = (
                filtered(where)
                .join(
                    MetricResultRow, MetricResultRow.evaluation_id == CallRow.current_evaluation_id
                )
                .where(
                    MetricResultRow.metric_id == metric_id,
                    MetricResultRow.outcome == "scored",
                    MetricResultRow.number_value.is_not(None),
                    CallRow.current_evaluation_id <= run,
                )
                .with_only_columns(MetricResultRow.number_value)
                .order_by(CallRow.current_evaluation_id.desc())
                .limit(limit)
            )
            values = [float(v) for v in session.scalars(query) if v is not None]
        return values[::-1]


def _row(row: AlertRow | None, alert_id: int) -> AlertRow:
    if row is None:
        raise AlertNotFoundError(alert_id)
    return row
