"""Transcript search served by an index: FTS5 (trigram) on SQLite, pg_trgm GIN on PostgreSQL

What each database gets and why is ``evaluator/store/search.py``'s docstring. Existing calls
are indexed here: SQLite's ``rebuild`` reads every stored transcript; PostgreSQL builds the
index over the rows it holds.

SQLite needs FTS5 with the ``trigram`` tokenizer (SQLite 3.34 or newer, as Python's own
builds have); without it this upgrade stops and says so. On PostgreSQL ``pg_trgm`` is
installed (``CREATE EXTENSION IF NOT EXISTS``) in schema ``public`` when it exists, so that
dropping an application schema never takes the extension, and every schema's index, with it;
where the extension cannot be installed (not available, or not allowed) the index is left out
with a warning, and search stays correct, as a scan. The downgrade drops the index and keeps
the extension (something else may use it).

After 0006 on purpose: 0006 rebuilds ``calls`` on SQLite (batch mode), which drops the
table's triggers; a revision that does so after this one must recreate them.

Revision ID: 0009
Revises: 0006
Create Date: 2026-11-29 12:20:00.000000
"""

from __future__ import annotations

import warnings

import sqlalchemy as sa
from alembic import op

from evaluator.store.search import PG_INDEX, SEARCH_TABLE, SQLITE_TRIGGERS

revision = "0009"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_index()
        return
    try:
        op.execute(
            f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(transcript_text, "
            "content='calls', content_rowid='id', tokenize='trigram')"
        )
    except sa.exc.OperationalError as exc:
        raise RuntimeError(
            "transcript search needs SQLite's FTS5 with the trigram tokenizer "
            f"(SQLite 3.34 or newer): {exc.orig}"
        ) from exc
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute(f"INSERT INTO {SEARCH_TABLE}({SEARCH_TABLE}) VALUES ('rebuild')")


def _postgres_index() -> None:
    bind = op.get_bind()
    schema = bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                 "WHERE extname = 'pg_trgm'"))  # fmt: skip
    if schema is None:
        public = bind.scalar(sa.text("SELECT 1 FROM pg_namespace WHERE nspname = 'public'"))
        where = " WITH SCHEMA public" if public else ""
        try:
            with bind.begin_nested():
                bind.execute(sa.text(f"CREATE EXTENSION IF NOT EXISTS pg_trgm{where}"))
        except sa.exc.DBAPIError as exc:
            warnings.warn(
                f"pg_trgm could not be installed ({exc.orig}): transcript search will scan",
                stacklevel=1,
            )
            return
        schema = bind.scalar(sa.text("SELECT extnamespace::regnamespace::text FROM pg_extension "
                                     "WHERE extname = 'pg_trgm'"))  # fmt: skip
    op.execute(
        f"CREATE INDEX {PG_INDEX} ON calls USING gin (transcript_text {schema}.gin_trgm_ops)"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
        return
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_{name}")
    op.execute(f"DROP TABLE IF EXISTS {SEARCH_TABLE}")
