"""Cekura's call-log API: intake notes, deleted calls kept for their evaluations, metric
results' integer ids and numeric values (for metric conditions in list filters)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 09:00:00.000000
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intake_notes", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("metric_results", schema=None) as batch_op:
        batch_op.add_column(sa.Column("numeric_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("number_value", sa.Float(), nullable=True))
    _backfill_number_values()


def _backfill_number_values() -> None:
    """Results stored before this revision get their numeric value (true is 1, false 0)."""
    bind = op.get_bind()
    results = sa.table(
        "metric_results",
        sa.column("id", sa.Integer()),
        sa.column("score", sa.JSON()),
        sa.column("number_value", sa.Float()),
    )
    scored = sa.select(results.c.id, results.c.score).where(results.c.score.is_not(None))
    rows = bind.execute(scored)
    for pk, score in rows.fetchall():
        value = _number(json.loads(score) if isinstance(score, str) else score)
        if value is not None:
            bind.execute(results.update().where(results.c.id == pk).values(number_value=value))


def _number(score: Any) -> float | None:
    if isinstance(score, bool):
        return 1.0 if score else 0.0
    if isinstance(score, int | float):
        return float(score)
    return None


def downgrade() -> None:
    with op.batch_alter_table("metric_results", schema=None) as batch_op:
        batch_op.drop_column("number_value")
        batch_op.drop_column("numeric_id")
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("intake_notes")
