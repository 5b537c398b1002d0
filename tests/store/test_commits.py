"""Which commits wait for the disk on PostgreSQL (``synchronous_commit``), read inside the
statements themselves: a call a user sent is committed by its own statement, durably,
before ``add_call`` returns; a claim likewise; an evaluation's result (``complete``) is
committed without waiting, as its comment argues; and the relaxed setting stays with its
transaction, never with the pooled connection that ran it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, select

from evaluator.store.calls import Store
from evaluator.store.db import Pool, now
from evaluator.store.tables import EvaluationRow
from tests.conftest import postgres_schema_url
from tests.store.test_queue_claims import _add

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store() -> Iterator[Store]:
    # One connection: what one transaction sets would be seen by the next one on it.
    for url in postgres_schema_url():
        store = Store(url, pool=Pool(size=1, overflow=0))
        store.upgrade()
        try:
            yield store
        finally:
            store.close()


def _watch(store: Store, prefix: str) -> list[tuple[str, str]]:
    """For each statement starting with ``prefix``: the connection's transaction status
    right after it (IDLE: the statement committed by itself) and ``synchronous_commit``
    as it stands there, inside the statement's transaction if one is still open."""
    seen: list[tuple[str, str]] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def _after(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        if statement.startswith(prefix):
            raw = cursor.connection
            status = raw.info.transaction_status.name
            seen.append((status, raw.execute("SHOW synchronous_commit").fetchone()[0]))

    return seen


def _setting(store: Store) -> str:
    with store.statement() as conn:
        return str(conn.exec_driver_sql("SHOW synchronous_commit").scalar())


def test_a_posted_call_is_committed_durably_by_its_own_statement(pg_store: Store) -> None:
    seen = _watch(pg_store, "INSERT INTO calls")
    _add(pg_store, 0)
    assert seen == [("IDLE", "on")]


def test_a_claim_is_committed_durably_by_its_own_statement(pg_store: Store) -> None:
    _add(pg_store, 0)
    seen = _watch(pg_store, "UPDATE calls SET evaluation_status")
    claim = pg_store.claim_next(60.0)
    assert claim is not None
    pg_store.renew([claim], 60.0)
    assert seen == [("IDLE", "on")]


def test_a_result_is_committed_without_waiting_for_the_disk(pg_store: Store) -> None:
    pk = _add(pg_store, 0)
    claim = pg_store.claim_next(60.0)
    assert claim is not None
    seen = _watch(pg_store, "INSERT INTO evaluations")
    assert pg_store.complete(claim, pg_store.get_call(pk), failed=False)
    assert seen == [("INTRANS", "off")]
    assert pg_store.get_call(pk).evaluation_status == "evaluated"
    assert _setting(pg_store) == "on"  # the same connection, the next transaction: durable


def test_a_relaxed_transaction_that_fails_writes_nothing(pg_store: Store) -> None:
    pk = _add(pg_store, 0)
    claim = pg_store.claim_next(60.0)
    assert claim is not None
    run = {"call_pk": pk, "source": "observe", "outcome": "evaluated", "notes": [],
           "created_at": now()}  # fmt: skip
    with pytest.raises(RuntimeError, match="midway"), pg_store.relaxed() as conn:
        conn.execute(EvaluationRow.__table__.insert(), run)  # type: ignore[attr-defined]
        raise RuntimeError("midway")
    with pg_store.statement(read_only=True) as conn:
        assert conn.scalar(select(func.count()).select_from(EvaluationRow)) == 0
    assert _setting(pg_store) == "on"
    assert pg_store.complete(claim, pg_store.get_call(pk), failed=False)  # still works
