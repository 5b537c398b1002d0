"""Alerts and their firings; indexes for the review UI's call list and dashboards

Revision ID: 0008
Revises: 0005 (chained after the merge: 0004, 0005, 0008, 0006, 0007, 0009)
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("project", sa.Integer(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.JSON(), nullable=False),
        sa.Column("threshold", sa.JSON(), nullable=False),
        sa.Column("notifications", sa.JSON(), nullable=False),
        sa.Column("trigger_count", sa.Integer(), nullable=False),
        sa.Column("last_triggered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "alert_firings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("call_pk", sa.Integer(), nullable=True),
        sa.Column("metric_id", sa.String(length=255), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("delivery_error", sa.Text(), nullable=True),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_firings_alert", "alert_firings", ["alert_id", "id"])
    op.create_index(
        "ix_metric_results_run_metric",
        "metric_results",
        ["evaluation_id", "metric_id", "outcome", "number_value"],
    )
    op.create_index("ix_metric_results_metric", "metric_results", ["metric_id", "evaluation_id"])
    op.create_index("ix_calls_agent_occurred_at", "calls", ["agent_id", "occurred_at"])
    op.create_index(
        "ix_calls_list",
        "calls",
        [
            "deleted_at",
            "occurred_at",
            "id",
            "agent_id",
            "current_evaluation_id",
            "evaluation_status",
        ],
    )


def downgrade() -> None:
    op.drop_index("ix_calls_list", table_name="calls")
    op.drop_index("ix_calls_agent_occurred_at", table_name="calls")
    op.drop_index("ix_metric_results_metric", table_name="metric_results")
    op.drop_index("ix_metric_results_run_metric", table_name="metric_results")
    op.drop_index("ix_alert_firings_alert", table_name="alert_firings")
    op.drop_table("alert_firings")
    op.drop_table("alerts")
