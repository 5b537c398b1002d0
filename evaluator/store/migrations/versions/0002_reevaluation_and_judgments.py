"""re-evaluation runs and their items; the judgment cache

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "judgments",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=255), nullable=False),
        sa.Column("raw_completion", sa.Text(), nullable=False),
        sa.Column("usage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "reevaluation_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "reevaluation_items",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("call_pk", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("before_evaluation_id", sa.Integer(), nullable=True),
        sa.Column("after_evaluation_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["reevaluation_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["call_pk"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_id", "call_pk"),
    )
    with op.batch_alter_table("reevaluation_items", schema=None) as batch_op:
        batch_op.create_index("ix_reevaluation_items_state", ["run_id", "state", "call_pk"])


def downgrade() -> None:
    with op.batch_alter_table("reevaluation_items", schema=None) as batch_op:
        batch_op.drop_index("ix_reevaluation_items_state")
    op.drop_table("reevaluation_items")
    op.drop_table("reevaluation_runs")
    op.drop_table("judgments")
