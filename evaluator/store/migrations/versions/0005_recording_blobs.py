"""Recordings move out of the database into the blob store: the row keeps a reference
(``blob_key``, ``size``), where the recording came from (``source``: upload or url) and what
it said (``analysis``), and ``data`` goes.

Rows stored before this revision have their bytes moved into the blob store, which must be
the one the service reads: ``Database.upgrade(blob_url=...)`` hands it over (``evaluator
serve`` and the service pass ``EVALUATOR_BLOB_URL``); run on its own (``alembic upgrade``),
this reads ``EVALUATOR_BLOB_URL`` and falls back to the settings' default folder. Each blob is
written before its row is updated, and a blob is content-addressed, so an upgrade that stops
half-way can be run again. The downgrade copies the bytes back from the blob store (rows whose
blob is gone are deleted: there is nothing to put back).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 11:30:00.000000
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from alembic import op

from evaluator.store.blobs import BlobNotFoundError, BlobStore

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The settings' default (evaluator/config.py, blob_url), for an upgrade run with no URL given.
DEFAULT_BLOB_URL = "evaluator-blobs"


def upgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source", sa.String(length=8), server_default="upload", nullable=False)
        )
        batch_op.add_column(sa.Column("blob_key", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("analysis", sa.JSON(), nullable=True))
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=True)
        batch_op.create_index(batch_op.f("ix_recordings_blob_key"), ["blob_key"], unique=False)
    _move_bytes_to_blobs()
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_column("data")


def _blobs() -> BlobStore:
    config = op.get_context().config
    url = config.attributes.get("blob_url") if config is not None else None
    return BlobStore(url or os.environ.get("EVALUATOR_BLOB_URL") or DEFAULT_BLOB_URL)


def _table(*columns: sa.ColumnClause[Any]) -> sa.TableClause:
    return sa.table("recordings", sa.column("call_pk", sa.Integer()), *columns)


def _move_bytes_to_blobs() -> None:
    """Each stored recording's bytes into the blob store, one row at a time (a recording
    can be large: never all of them in memory at once)."""
    bind = op.get_bind()
    rows = _table(
        sa.column("data", sa.LargeBinary()),
        sa.column("blob_key", sa.String()),
        sa.column("size", sa.BigInteger()),
    )
    pks = list(bind.scalars(sa.select(rows.c.call_pk).order_by(rows.c.call_pk)))
    if not pks:
        return
    blobs = _blobs()
    for pk in pks:
        data = bind.scalar(sa.select(rows.c.data).where(rows.c.call_pk == pk))
        stored = blobs.put(bytes(data or b""))
        bind.execute(
            rows.update().where(rows.c.call_pk == pk).values(blob_key=stored.key, size=stored.size)
        )


def downgrade() -> None:
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))
    _copy_bytes_back()
    with op.batch_alter_table("recordings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_recordings_blob_key"))
        batch_op.alter_column("data", existing_type=sa.LargeBinary(), nullable=False)
        batch_op.alter_column("sha256", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_column("analysis")
        batch_op.drop_column("size")
        batch_op.drop_column("blob_key")
        batch_op.drop_column("source")


def _copy_bytes_back() -> None:
    bind = op.get_bind()
    rows = _table(
        sa.column("data", sa.LargeBinary()),
        sa.column("blob_key", sa.String()),
        sa.column("sha256", sa.String()),
    )
    found = bind.execute(sa.select(rows.c.call_pk, rows.c.blob_key, rows.c.sha256)).fetchall()
    if not found:
        return
    blobs = _blobs()
    for pk, key, sha in found:
        try:
            data = blobs.read(key) if key else None
        except BlobNotFoundError:
            data = None
        if data is None:
            bind.execute(rows.delete().where(rows.c.call_pk == pk))
            continue
        bind.execute(rows.update().where(rows.c.call_pk == pk).values(data=data, sha256=sha or key))
