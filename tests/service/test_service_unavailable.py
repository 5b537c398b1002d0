"""Database trouble is a JSON 503 with Retry-After, never a hang or a plain-text 500, and
``/health`` answers at once, saying what is unhealthy only to a key holder."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from evaluator.store.db import Database
from tests.service.conftest import HEADERS, RunApp

OBSERVE = "/observability/v1/observe/"


@contextlib.contextmanager
def holding(resource: Callable[[], contextlib.AbstractContextManager[Any]]) -> Iterator[None]:
    """``resource()`` entered and held by another thread for the block's duration."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with resource():
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        holder.join(5)


async def test_a_busy_sqlite_file_gives_503_with_retry_after_not_a_hang(
    run_app: RunApp, booking_request: dict[str, Any], tmp_path: Path
) -> None:
    # A SQLite file whatever the suite's database: PostgreSQL has no file lock to hold.
    url = f"sqlite:///{tmp_path / 'busy.db'}"
    async with run_app(db_busy_timeout=0.2, database_url=url) as running:
        other = Database(url)  # another handle on the same file
        with holding(other.session):
            post = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
            health = await running.client.get("/health", headers=HEADERS)
        other.close()
        after = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
    assert post.status_code == 503
    assert post.headers["retry-after"] == "5"
    assert "busy" in post.json()["detail"]
    assert health.status_code == 200  # a read: it waits for no writer
    assert after.status_code == 201  # nothing half-stored: the same body goes in afterwards


async def test_a_lost_database_is_503_and_health_says_so_only_to_a_key_holder(
    run_app: RunApp, booking_request: dict[str, Any]
) -> None:
    async with run_app() as running:
        store = running.service.store
        working = store.engine
        # Nothing listens on port 1: every new connection fails, as after a database restart.
        store.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
        store._sessions.configure(bind=store.engine)
        try:
            post = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
            listing = await running.client.get("/observability/v1/call-logs/", headers=HEADERS)
            anonymous = await running.client.get("/health")
            detailed = await running.client.get("/health", headers=HEADERS)
        finally:
            store.engine.dispose()
            store.engine = working
            store._sessions.configure(bind=working)
    for response in (post, listing):
        assert response.status_code == 503, response.text
        assert response.headers["content-type"].startswith("application/json")
        assert response.headers["retry-after"] == "5"
    assert anonymous.status_code == 503 and anonymous.json() == {
        "status": "unavailable", "database": None, "worker": None, "queue": None,
        "agents": None, "metrics": None,
    }  # fmt: skip
    assert detailed.status_code == 503
    assert detailed.json()["database"].startswith("unavailable")
    assert detailed.json()["worker"] == "running"


async def test_health_without_a_key_says_only_up(run_app: RunApp) -> None:
    async with run_app() as running:
        anonymous = await running.client.get("/health")
        detailed = await running.client.get("/health", headers=HEADERS)
    assert anonymous.status_code == 200
    assert {k for k, v in anonymous.json().items() if v is not None} == {"status"}
    body = detailed.json()
    assert body["status"] == "ok" and body["database"] == "ok" and body["queue"] == 0
    assert body["agents"] >= 1 and body["metrics"] >= 1


async def test_no_free_pooled_connection_is_503_with_retry_after(
    run_app: RunApp, booking_request: dict[str, Any], database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the connection pool is PostgreSQL's (SQLite: the busy file, above)")
    async with run_app(db_pool_size=1, db_max_overflow=0, db_busy_timeout=0.3) as running:
        # The pool's one connection, taken (a crowd of requests would).
        with holding(running.service.store.engine.connect):
            post = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
        after = await running.client.post(OBSERVE, json=booking_request, headers=HEADERS)
    assert post.status_code == 503, post.text
    assert post.headers["retry-after"] == "5"
    assert "every pooled connection is in use" in post.json()["detail"]
    assert after.status_code == 201  # nothing half-stored: the same body goes in afterwards
