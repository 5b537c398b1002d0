"""Alembic environment: runs on the connection ``store.db.Database.upgrade`` hands over (or the
URL). ``target_metadata`` is the one metadata every table of the store is declared in; the
transcript search's index and table (migration 0009) live outside it (``include_name``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from evaluator.store.search import include_name
from evaluator.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        include_name=include_name,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
