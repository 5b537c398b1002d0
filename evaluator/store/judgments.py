"""The judgment cache's SQL backend: the ``judgments`` table of the store (SQLite or
PostgreSQL), mapping a request's key to the raw completion and usage that answered it."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.tables import JudgmentRow

__all__ = ["JudgmentTable", "SqlBackend"]


class JudgmentTable:
    """The SQL backend of the judgment cache (sync; callers run it in a thread). Plain
    Core statements on a connection: a lookup is on every judge request's path."""

    def __init__(self, database: Database) -> None:
        self._db = database
        table = cast(Table, JudgmentRow.__table__)
        self._get = select(table.c.raw_completion, table.c.usage).where(
            table.c.key == bindparam("wanted")
        )
        insert = (
            postgresql.insert if database.engine.dialect.name == "postgresql" else sqlite.insert
        )
        self._put = insert(table).on_conflict_do_nothing()

    def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        with self._db.connection(read_only=True) as conn:
            row = conn.execute(self._get, {"wanted": key}).first()
            return None if row is None else (str(row[0]), dict(row[1]))

    def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        """Insert once; a key already there (another worker got there first) is kept."""
        self.put_many([(key, model, raw, usage)])

    def put_many(self, rows: list[tuple[str, str, str, dict[str, Any]]]) -> None:
        """Insert several in one transaction; keys already there are kept."""
        now = _now()
        values = [
            {"key": key, "model": model, "raw_completion": raw, "usage": usage, "created_at": now}
            for key, model, raw, usage in rows
        ]
        with self._db.connection() as conn:
            conn.execute(self._put, values)

    def count(self) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.count()).select_from(JudgmentRow)) or 0)


_Put = tuple[tuple[str, str, str, dict[str, Any]], "asyncio.Future[None]"]


class SqlBackend:
    """The ``judgments`` table of the configured store (SQLite or PostgreSQL).

    Lookups and writes run on the backend's own threads, so they do not queue behind the
    store's other work. Writes are grouped: the answers that arrive while one transaction
    commits are written by the next, and each ``put`` returns once its answer is committed.
    """

    def __init__(self, url: str, threads: int = 8) -> None:
        self._database = Database(url)
        self._database.upgrade()
        self.table = JudgmentTable(self._database)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="judgment-cache")
        # Per event loop (a future belongs to its loop): answers waiting to be written, and
        # the task writing them.
        self._waiting: dict[asyncio.AbstractEventLoop, list[_Put]] = {}
        self._writing: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self.table.get, key)

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        loop = asyncio.get_running_loop()
        committed: asyncio.Future[None] = loop.create_future()
        self._waiting.setdefault(loop, []).append(((key, model, raw, usage), committed))
        writing = self._writing.get(loop)
        if writing is None or writing.done():
            self._writing[loop] = loop.create_task(self._write_waiting(loop))
        await committed

    async def _write_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        while batch := self._waiting.pop(loop, []):
            try:
                await loop.run_in_executor(
                    self._threads, self.table.put_many, [row for row, _ in batch]
                )
            except Exception as exc:  # every writer in the batch hears why
                for _, committed in batch:
                    if not committed.done():
                        committed.set_exception(exc)
            else:
                for _, committed in batch:
                    if not committed.done():
                        committed.set_result(None)
        self._writing.pop(loop, None)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._database.close()
