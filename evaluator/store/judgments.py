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
        self._get_many = select(table.c.key, table.c.raw_completion, table.c.usage).where(
            table.c.key.in_(bindparam("wanted", expanding=True))
        )
        insert = (
            postgresql.insert if database.engine.dialect.name == "postgresql" else sqlite.insert
        )
        self._put = insert(table).on_conflict_do_nothing()

    def get_many(self, keys: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """The cached judgments of those keys that have one, in one read (a few statements
        for very many keys: SQLite caps the parameters of one)."""
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        with self._db.connection(read_only=True) as conn:
            for start in range(0, len(keys), KEYS_PER_STATEMENT):
                wanted = keys[start : start + KEYS_PER_STATEMENT]
                for key, raw, usage in conn.execute(self._get_many, {"wanted": wanted}):
                    found[str(key)] = (str(raw), dict(usage))
        return found

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
_Get = tuple[str, "asyncio.Future[tuple[str, dict[str, Any]] | None]"]
KEYS_PER_STATEMENT = 500


class SqlBackend:
    """The ``judgments`` table of the configured store (SQLite or PostgreSQL).

    Lookups and writes run on the backend's own threads, so they do not queue behind the
    store's other work. Both are grouped: the lookups asked for while one read runs are made
    by the next, in one statement (a re-evaluation asks one per call, tens at once: one
    thread hop and one statement each cost more than the lookup); the answers that arrive
    while one transaction commits are written by the next, and each ``put`` returns once
    its answer is committed.
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
        self._wanted: dict[asyncio.AbstractEventLoop, list[_Get]] = {}
        self._reading: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        loop = asyncio.get_running_loop()
        found: asyncio.Future[tuple[str, dict[str, Any]] | None] = loop.create_future()
        self._wanted.setdefault(loop, []).append((key, found))
        reading = self._reading.get(loop)
        if reading is None or reading.done():
            self._reading[loop] = loop.create_task(self._read_wanted(loop))
        return await found

    async def _read_wanted(self, loop: asyncio.AbstractEventLoop) -> None:
        while batch := self._wanted.pop(loop, []):
            keys = list(dict.fromkeys(key for key, _ in batch))
            try:
                rows = await loop.run_in_executor(self._threads, self.table.get_many, keys)
            except Exception as exc:  # every lookup in the batch hears why
                for _, found in batch:
                    if not found.done():
                        found.set_exception(exc)
            else:
                for key, found in batch:
                    if not found.done():  # its asker may have been cancelled meanwhile
                        found.set_result(rows.get(key))
        self._reading.pop(loop, None)

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
