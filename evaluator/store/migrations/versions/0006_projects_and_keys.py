"""Tenancy: projects, API keys stored hashed, and each call's project (existing calls go to
the default project, 1)

Revision ID: 0006
Revises: 0008 (merged main: after the alerts; was 0004)
Create Date: 2026-11-29 11:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0008"
branch_labels = None
depends_on = None

DEFAULT_PROJECT = 1


def upgrade() -> None:
    projects = op.create_table(
        "projects",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    # Written as naive UTC, as the store writes SQLite (PostgreSQL takes either).
    created = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(projects, [{"id": DEFAULT_PROJECT, "name": "Default Project",
                               "created_at": created}])  # fmt: skip
    if op.get_bind().dialect.name == "postgresql":
        # The explicit id left the sequence behind: the next project is 2, not 1.
        op.execute("SELECT setval(pg_get_serial_sequence('projects', 'id'), "
                   "(SELECT max(id) FROM projects))")  # fmt: skip
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_hash"),
    )
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("project_id", sa.Integer(), nullable=False,
                                      server_default=str(DEFAULT_PROJECT)))  # fmt: skip
        batch_op.create_foreign_key("fk_calls_project_id", "projects", ["project_id"], ["id"])
        batch_op.create_index("ix_calls_project_occurred_at", ["project_id", "occurred_at"])
    # Existing rows took the default; new rows get theirs from the store.
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.alter_column("project_id", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_index("ix_calls_project_occurred_at")
        batch_op.drop_constraint("fk_calls_project_id", type_="foreignkey")
        batch_op.drop_column("project_id")
    op.drop_table("api_keys")
    op.drop_table("projects")
