"""The database handle every store class builds on: engine, sessions, migrations, and one
writer lock per SQLite file.

SQLite has one writer at a time. Threads of this process that write the same file queue on
one lock instead of waiting on the file lock (which times out after 30 s); the lock is per
database file, not per ``Database`` object, so the judgment cache's handle and the store's
handle on the same file take turns instead of racing each other.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import Connection, Engine, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from evaluator.store.types import StoreUnavailableError

__all__ = ["MIGRATIONS", "Database", "Pool", "now", "writer_lock"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# Process-wide by nature: a lock shared by every handle on the same SQLite file.
_FILE_LOCKS: dict[str, threading.Lock] = {}
_FILE_LOCKS_GUARD = threading.Lock()


@dataclass(frozen=True)
class Pool:
    """The connections one handle keeps to a database server (PostgreSQL): ``size`` kept
    open, up to ``overflow`` more while busy. Every process (web process, Celery worker)
    holds its own, so processes x (size + overflow) must stay under the server's
    ``max_connections``. A thread that finds all of them taken waits up to the handle's
    ``busy_timeout``, then gets ``StoreUnavailableError`` (a 503 with ``Retry-After``).
    SQLite has no pool: one connection per thread, as needed."""

    size: int = 5
    overflow: int = 10


def now() -> datetime:
    return datetime.now(UTC)


def writer_lock(url: str) -> threading.Lock | None:
    """The lock of a SQLite database (one per file; each in-memory database its own), or
    None for servers that handle concurrent writers themselves."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:"):
        return threading.Lock()
    key = str(Path(database).resolve())
    with _FILE_LOCKS_GUARD:
        return _FILE_LOCKS.setdefault(key, threading.Lock())


class Database:
    """An engine with sessions: SQLite file by default, PostgreSQL by URL."""

    def __init__(self, url: str, *, busy_timeout: float = 10.0, pool: Pool | None = None) -> None:
        self.url = url
        # How long a writer waits for the SQLite file, or any thread for one of the pool's
        # PostgreSQL connections, before giving up (StoreUnavailableError): a request must
        # not hang behind a long transaction or a crowd of others.
        self.busy_timeout = busy_timeout
        self.engine: Engine = _make_engine(url, busy_timeout, pool or Pool())
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._lock = writer_lock(url)
        database = make_url(url).database
        # A SQLite file is in WAL mode (readers beside a writer); an in-memory one is not.
        self._wal = self._lock is not None and database not in (None, "", ":memory:")
        # The project this handle sees (``scoped``); None: every project.
        self.project_id: int | None = None

    def scoped(self, project_id: int | None) -> Self:
        """This handle as a key of ``project_id`` sees the store (``store/scope.py``): the
        same engine and lock, only that project's calls. ``None``: every project."""
        if project_id == self.project_id:
            return self
        view = copy.copy(self)
        view.project_id = project_id
        return view

    def where(self) -> tuple[str, float, int | None]:
        """What another process needs to open this same handle: URL, busy timeout, project
        (picklable; ``evaluator.service.offload.child_store`` opens it)."""
        return self.url, self.busy_timeout, self.project_id

    def upgrade(self, *, blob_url: str | None = None) -> None:
        """Apply the Alembic migrations shipped in the package, up to the newest.
        ``blob_url``: the recordings' blob store, for the migration that moves recordings
        out of the database (0005); without it that one reads ``EVALUATOR_BLOB_URL``."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.attributes["blob_url"] = blob_url
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Several processes starting at once (web processes, workers, the judgment
                # cache's handle) migrate one after the other, not into each other.
                connection.execute(text("SELECT pg_advisory_xact_lock(7215001)"))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _writer(self) -> Iterator[None]:
        if self._lock is None:
            yield
            return
        if not self._lock.acquire(timeout=self.busy_timeout):
            raise StoreUnavailableError(
                f"the database is busy: no write slot within {self.busy_timeout:g} s; try again"
            )
        try:
            yield
        finally:
            self._lock.release()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """An ORM session in a transaction, committed on exit."""
        with _translated(), self._writer(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def connection(self, *, read_only: bool = False) -> Iterator[Connection]:
        """A Core connection in a transaction (committed on exit). SQLite in WAL mode reads
        beside a writer, so only writes take the file's lock."""
        if self._lock is None or (read_only and self._wal):
            with _translated(), self.engine.begin() as conn:
                yield conn
            return
        with _translated(), self._writer(), self.engine.begin() as conn:
            yield conn

    @contextmanager
    def statement(self, *, read_only: bool = False) -> Iterator[Connection]:
        """A Core connection for ONE statement, which commits by itself. On PostgreSQL it
        runs in autocommit: one round trip, where a transaction costs three (psycopg sends
        BEGIN first, the statement, then COMMIT), and each round trip costs the thread a
        wait for the GIL behind the others when the service is busy. Its commit is
        synchronous (durable before the statement returns), as every transaction's here.
        On SQLite, ``connection``'s transaction. Never for two statements that must be
        atomic: on PostgreSQL each would be its own transaction."""
        if self._lock is not None:
            with self.connection(read_only=read_only) as conn:
                yield conn
            return
        with _translated(), self.engine.connect() as conn:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def relaxed(self) -> Iterator[Connection]:
        """A Core transaction whose commit does not wait for the disk: on PostgreSQL
        ``synchronous_commit`` is off for this transaction alone, so its COMMIT returns
        without the WAL flush (4-5 ms here), and a server crash in the next few hundred
        milliseconds may lose it, never half of it. Only for writes whose loss the queue
        recovers (each caller says why); a call a user sent is never stored through it.
        Any later synchronous commit on the server flushes this one too: the WAL is one
        sequence. On SQLite, ``connection``'s transaction.

        The same round trips as a transaction: BEGIN and the SET go in one simple-protocol
        query where psycopg would send BEGIN alone."""
        if self._lock is not None:
            with self.connection() as conn:
                yield conn
            return
        with _translated(), self.engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("BEGIN; SET LOCAL synchronous_commit TO off")
            try:
                yield conn
            except BaseException:
                with contextlib.suppress(Exception):  # the error raised says what went wrong
                    conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")

    def ping(self) -> None:
        """Raise if the database cannot be reached. A read: it waits for no writer."""
        with self.connection(read_only=True) as conn:
            conn.execute(select(1))


@contextmanager
def _translated() -> Iterator[None]:
    """The database's own trouble (a dropped connection, a locked file, a server gone, no
    free connection in the pool in time) as ``StoreUnavailableError``: the transaction was
    rolled back, so the caller may retry."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise StoreUnavailableError(f"the database is unavailable: {exc.orig}") from exc
    except PoolTimeoutError as exc:
        raise StoreUnavailableError(
            "the database is busy: every pooled connection is in use; try again "
            "(EVALUATOR_DB_POOL_SIZE, EVALUATOR_DB_MAX_OVERFLOW)"
        ) from exc


def _make_engine(url: str, busy_timeout: float, pool: Pool) -> Engine:
    if not url.startswith("sqlite"):
        engine = create_engine(url, pool_size=pool.size, max_overflow=pool.overflow,
                               pool_timeout=busy_timeout)  # fmt: skip
        _ping_when_idle(engine)
        return engine
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        if ":memory:" not in url:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


# A pooled connection unused for longer than this is pinged before use.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """Replace a connection the server dropped (a restart, an idle timeout, a proxy) before
    a request uses it: one that sat idle in the pool is pinged first, and a dead one is
    swapped for a new one (``DisconnectionError`` makes the pool retry). One just used is
    not pinged: under load a ping on every checkout was a sixth of the store's round trips
    (``pool_pre_ping``). A connection dropped while in use fails its transaction once
    (``StoreUnavailableError``: a 503 to retry, or the job's next attempt), and the pool
    then replaces every connection as old as the dropped one."""

    @event.listens_for(engine, "connect")
    def _fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("idle_since", 0.0)
        if idle <= PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise DisconnectionError(f"the pooled connection was dropped: {exc}") from exc
