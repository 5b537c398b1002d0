"""The judgment cache: a second identical run makes no requests (SQLite and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from evaluator.bootstrap import Definitions
from evaluator.engine import evaluate_prepared
from evaluator.ingest.intake import PreparedCall
from evaluator.judge.cache import CachingJudge, JudgmentBackend, RedisBackend
from evaluator.judge.scripted import ScriptedJudge
from evaluator.store.calls import Store
from evaluator.store.judgments import SqlBackend

REDIS_URL = "redis://127.0.0.1:6379/15"


@pytest.fixture(params=["sql", "redis"])
def backend(request: pytest.FixtureRequest, store: Store) -> Iterator[JudgmentBackend]:
    if request.param == "sql":
        sql = SqlBackend(store.url)
        yield sql
        sql.close()
        return
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    yield _IsolatedRedis(REDIS_URL)


class _IsolatedRedis(RedisBackend):
    """Keys under a fresh prefix, so runs of the test never see each other's entries."""

    def __init__(self, url: str) -> None:
        super().__init__(url, ttl_seconds=600)
        self.prefix = uuid.uuid4().hex

    async def get(self, key: str) -> tuple[str, dict[str, Any]] | None:
        return await super().get(self.prefix + key)

    async def put(self, key: str, model: str, raw: str, usage: dict[str, Any]) -> None:
        await super().put(self.prefix + key, model, raw, usage)


async def test_second_identical_evaluation_makes_no_requests(
    backend: JudgmentBackend, booking_call: PreparedCall, definitions: Definitions
) -> None:
    inner = ScriptedJudge()
    judge = CachingJudge(inner, backend)
    first = await evaluate_prepared(booking_call, judge=judge, renderer=definitions.renderer)
    asked = len(inner.requests)
    assert asked > 0 and first.usage is not None and first.usage.requests == asked
    second = await evaluate_prepared(booking_call, judge=judge, renderer=definitions.renderer)
    assert len(inner.requests) == asked  # nothing new was sent
    assert second.usage is not None
    assert (second.usage.requests, second.usage.cache_hits, second.usage.prompt_tokens) == (
        0,
        asked,
        0,
    )
    assert (judge.hits, judge.misses) == (asked, asked)
    assert [m.model_dump(exclude={"explanation"}) for m in second.metrics] == [
        m.model_dump(exclude={"explanation"}) for m in first.metrics
    ]
    assert judge.saved.prompt_tokens == first.usage.prompt_tokens


async def test_a_different_model_or_prompt_misses(
    backend: JudgmentBackend, booking_call: PreparedCall, definitions: Definitions
) -> None:
    first = ScriptedJudge()
    await evaluate_prepared(
        booking_call, judge=CachingJudge(first, backend), renderer=definitions.renderer
    )
    other = ScriptedJudge(model_name="scripted/other")
    await evaluate_prepared(
        booking_call, judge=CachingJudge(other, backend), renderer=definitions.renderer
    )
    assert len(other.requests) == len(first.requests)


async def test_failures_are_never_cached(
    backend: JudgmentBackend, booking_call: PreparedCall, definitions: Definitions
) -> None:
    off_menu = ScriptedJudge(respond=lambda request: '{"not": "the schema"}')
    judge = CachingJudge(off_menu, backend)
    await evaluate_prepared(booking_call, judge=judge, renderer=definitions.renderer)
    asked = len(off_menu.requests)
    await evaluate_prepared(booking_call, judge=judge, renderer=definitions.renderer)
    assert len(off_menu.requests) == 2 * asked and judge.hits == 0
    down = ScriptedJudge(fail_times=10**6)
    await evaluate_prepared(
        booking_call, judge=CachingJudge(down, backend), renderer=definitions.renderer
    )
    healthy = ScriptedJudge()
    await evaluate_prepared(
        booking_call, judge=CachingJudge(healthy, backend), renderer=definitions.renderer
    )
    assert len(healthy.requests) == len(down.requests)


def test_open_judge_wraps_by_setting(store: Store, tmp_path: Any) -> None:
    from evaluator.bootstrap import open_backend
    from evaluator.config import Settings

    with open_backend("off", store.url) as none:
        assert none is None
    with open_backend("sql", store.url) as sql:
        assert isinstance(sql, SqlBackend)
    assert Settings(cache="off").cache == "off"


async def test_a_cache_write_in_flight_when_a_run_stops_is_finished(
    store: Store, definitions: Definitions, booking_request: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """A worker crashes while another's paid-for answer is still being written to the cache:
    the stopped run waits for that write, so the resumed run finds it (asks nothing twice)."""
    import time
    from collections import Counter

    from evaluator.reevaluate.run import Reevaluation, RunOptions, Selection, start_run
    from evaluator.store.judgments import JudgmentTable
    from tests.reevaluate.conftest import add_judged_calls
    from tests.reevaluate.test_reevaluate_runs import CrashingJudge

    original, puts = JudgmentTable.put, []

    def slow_put(self: JudgmentTable, *args: Any) -> None:
        puts.append(1)
        if len(puts) == 9:
            time.sleep(0.3)  # the last answer before the crash is still being written
        original(self, *args)

    monkeypatch.setattr(JudgmentTable, "put", slow_put)
    await add_judged_calls(store, definitions, booking_request, 12)
    answered: Counter[str] = Counter()
    backend = SqlBackend(store.url)
    run = start_run(store, RunOptions(Selection(), ("all",)), definitions)
    new_model = ScriptedJudge(model_name="scripted/new-judge", latency_seconds=0.001)
    dying = CachingJudge(CrashingJudge(new_model, answered, crash_after=9), backend)
    with pytest.raises(RuntimeError, match="killed"):
        await Reevaluation(store, definitions, dying, concurrency=3).run(run)
    healthy = CachingJudge(CrashingJudge(new_model, answered, crash_after=10**6), backend)
    await Reevaluation(store, definitions, healthy, concurrency=3).run(run)
    assert {k: n for k, n in answered.items() if n > 1} == {}
    backend.close()


async def test_sql_cache_groups_concurrent_writes_and_each_put_waits_for_its_commit(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from evaluator.store.judgments import JudgmentTable

    transactions: list[int] = []
    original = JudgmentTable.put_many

    def counted(self: JudgmentTable, rows: list[Any]) -> None:
        transactions.append(len(rows))
        original(self, rows)

    monkeypatch.setattr(JudgmentTable, "put_many", counted)
    backend = SqlBackend(store.url)
    keys = [uuid.uuid4().hex for _ in range(40)]
    await asyncio.gather(*(backend.put(k, "m", f'{{"n": {i}}}', {}) for i, k in enumerate(keys)))
    assert sum(transactions) == 40 and len(transactions) < 40  # grouped, none lost
    for i, key in enumerate(keys):  # every put had committed when it returned
        assert await backend.get(key) == (f'{{"n": {i}}}', {})

    def broken(self: JudgmentTable, rows: list[Any]) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(JudgmentTable, "put_many", broken)
    failures = await asyncio.gather(
        *(backend.put(uuid.uuid4().hex, "m", "{}", {}) for _ in range(5)), return_exceptions=True
    )
    assert [type(f) for f in failures] == [OSError] * 5  # each writer hears the failure
    backend.close()


async def test_sql_cache_groups_concurrent_lookups_into_few_reads(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from evaluator.store import judgments
    from evaluator.store.judgments import JudgmentTable

    backend = SqlBackend(store.url)
    stored = [uuid.uuid4().hex for _ in range(30)]
    await asyncio.gather(*(backend.put(k, "m", f'{{"n": {i}}}', {"requests": i})
                           for i, k in enumerate(stored)))  # fmt: skip
    reads: list[int] = []
    original = JudgmentTable.get_many

    def counted(self: JudgmentTable, keys: list[str]) -> Any:
        reads.append(len(keys))
        return original(self, keys)

    monkeypatch.setattr(JudgmentTable, "get_many", counted)
    monkeypatch.setattr(judgments, "KEYS_PER_STATEMENT", 7)  # several statements per read
    missing = [uuid.uuid4().hex for _ in range(10)]
    asked = stored + missing + stored[:5]  # a key asked twice at once is read once
    found = await asyncio.gather(*(backend.get(k) for k in asked))
    expected = [(f'{{"n": {i}}}', {"requests": i}) for i in range(30)]
    assert found == expected + [None] * 10 + expected[:5]
    assert len(reads) < len(asked) and sum(reads) == 40  # grouped, each key read once

    def broken(self: JudgmentTable, keys: list[str]) -> Any:
        raise OSError("database is locked")

    monkeypatch.setattr(JudgmentTable, "get_many", broken)
    failures = await asyncio.gather(*(backend.get(k) for k in stored[:4]), return_exceptions=True)
    assert [type(f) for f in failures] == [OSError] * 4  # each asker hears the failure
    backend.close()
