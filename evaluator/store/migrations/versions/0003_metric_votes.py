"""metric votes: people's labels on one metric of one call

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_votes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("call_pk", sa.Integer(), nullable=False),
        sa.Column("metric_id", sa.String(length=100), nullable=False),
        sa.Column("thumbs_up", sa.Boolean(), nullable=True),
        sa.Column("expected_value", sa.JSON(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("machine_value", sa.JSON(), nullable=True),
        sa.Column("voter", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["call_pk"], ["calls.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("metric_votes", schema=None) as batch_op:
        batch_op.create_index("ix_metric_votes_call_metric", ["call_pk", "metric_id"], unique=False)


def downgrade() -> None:
    op.drop_table("metric_votes")
