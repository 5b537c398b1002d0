"""The judgment cache's SQL backend: the ``judgments`` table of the store (SQLite or
PostgreSQL), mapping a request's key to the raw completion and usage that answered it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql, sqlite

from evaluator.store.db import Database
from evaluator.store.db import now as _now
from evaluator.store.tables import JudgmentRow

__all__ = ["JudgmentTable", "SqlBackend"]

# Keys read by one statement at most (SQLite caps the parameters of one).
KEYS_PER_STATEMENT = 500
_Row = tuple[str, str, str, dict[str, Any]]
_Found = tuple[str, dict[str, Any]] | None
T = TypeVar("T")
R = TypeVar("R")


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

    def put_many(self, rows: list[_Row]) -> None:
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


class _Grouped(Generic[T, R]):
    """One blocking function of many items, run on a thread for groups of them: the items
    submitted while one group runs make the next group, and each submitter gets its own
    item's result, or the group's exception. Per event loop (a future belongs to its loop).
    """

    def __init__(self, run: Callable[[list[T]], list[R]], threads: Executor) -> None:
        self._run = run
        self._threads = threads
        self._waiting: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[R]]]] = {}
        self._running: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def submit(self, item: T) -> R:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[R] = loop.create_future()
        self._waiting.setdefault(loop, []).append((item, done))
        running = self._running.get(loop)
        if running is None or running.done():
            self._running[loop] = loop.create_task(self._drain(loop))
        return await done

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        while group := self._waiting.pop(loop, []):
            try:
                results = await loop.run_in_executor(
                    self._threads, self._run, [item for item, _ in group]
                )
            except Exception as exc:  # every submitter in the group hears why
                for _, done in group:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for (_, done), result in zip(group, results, strict=True):
                    if not done.done():  # its submitter may have been cancelled meanwhile
                        done.set_result(result)
        self._running.pop(loop, None)


class SqlBackend:
    """The ``judgments`` table of the configured store (SQLite or PostgreSQL).

    Lookups and writes run on the backend's own threads, so they do not queue behind the
    store's other work, and both are grouped (``_Grouped``): the lookups asked for while one
    read runs are made by the next, in one statement (a re-evaluation asks one per call, tens
    at once: a thread hop and a statement each cost more than the lookup), and the answers
    that arrive while one transaction commits are written by the next; each ``put`` returns
    once its answer is committed.
    """

    def __init__(self, url: str, threads: int = 8) -> None:
        self._database = Database(url)
        self._database.upgrade()
        self.table = JudgmentTable(self._database)
        self._threads = ThreadPoolExecutor(threads, thread_name_prefix="judgment-cache")
        self._gets: _Grouped[str, _Found] = _Grouped(self._look_up, self._threads)
        self._puts: _Grouped[_Row, None] = _Grouped(self._insert, self._threads)

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        return await self._gets.submit(key)

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        await self._puts.submit((key, model, raw, usage))

    def _look_up(self, keys: list[str]) -> list[_Found]:
        found = self.table.get_many(list(dict.fromkeys(keys)))  # a key asked twice: once
        return [found.get(key) for key in keys]

    def _insert(self, rows: list[_Row]) -> list[None]:
        self.table.put_many(rows)
        return [None] * len(rows)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._database.close()
