"""PostgreSQL connections the server drops (a restart, an idle timeout) and a pool with no
free connection: a dropped connection that sat idle is replaced before use, one dropped
mid-use fails one transaction as ``StoreUnavailableError`` (never an unexplained error)
and the next one works, and a thread that finds the pool taken waits ``busy_timeout``,
then gets ``StoreUnavailableError`` too."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from evaluator.store import db as db_module
from evaluator.store.calls import Store
from evaluator.store.db import Pool
from evaluator.store.types import StoreUnavailableError
from tests.conftest import POSTGRES_URL, postgres_schema_url

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from postgres_schema_url()


@pytest.fixture
def one_connection(pg_url: str) -> Iterator[Store]:
    """A migrated store whose pool holds a single connection."""
    store = Store(pg_url, pool=Pool(size=1, overflow=0))
    try:
        store.upgrade()
        yield store
    finally:
        store.close()


def _drop_connections_of(store: Store) -> int:
    """Terminate the server side of every connection ``store`` holds (as a restart
    would); how many there were."""
    with store.engine.connect() as conn:
        pid = conn.scalar(text("SELECT pg_backend_pid()"))
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return int(conn.scalar(text("SELECT count(pg_terminate_backend(:pid))"), {"pid": pid}))
    finally:
        admin.dispose()


def test_a_dropped_idle_connection_is_replaced_before_use(
    one_connection: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _drop_connections_of(one_connection) == 1
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 0.0)  # it has been idle
    assert one_connection.queue_depth() == 0  # pinged, found dead, replaced: no error


def test_a_connection_dropped_mid_use_fails_once_as_unavailable(
    one_connection: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_SECONDS", 3600.0)  # just used
    assert _drop_connections_of(one_connection) == 1
    with pytest.raises(StoreUnavailableError, match="unavailable"):
        one_connection.queue_depth()
    assert one_connection.queue_depth() == 0  # the pool replaced the dead connection


def test_no_free_connection_in_time_is_unavailable_not_a_hang(pg_url: str) -> None:
    store = Store(pg_url, busy_timeout=0.2, pool=Pool(size=1, overflow=0))
    try:
        store.upgrade()
        held, release = threading.Event(), threading.Event()

        def hold() -> None:  # the pool's one connection, taken
            with store.engine.connect():
                held.set()
                release.wait(10)

        holder = threading.Thread(target=hold)
        holder.start()
        assert held.wait(5)
        try:
            with pytest.raises(StoreUnavailableError, match="every pooled connection is in use"):
                store.queue_depth()
        finally:
            release.set()
            holder.join(5)
        assert store.queue_depth() == 0
    finally:
        store.close()
