"""``evaluator reevaluate --backend celery``: a run published as chunks to worker processes,
progress and the report read from the store, a second identical run answered by the cache,
``--cancel`` and ``--resume``; and the observe flow on RabbitMQ instead of Redis."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from evaluator.bootstrap import Definitions
from evaluator.cli.main import app
from evaluator.judge.scripted import ScriptedJudge
from evaluator.reevaluate.run import RunOptions, Selection, start_run
from evaluator.store.calls import Store
from evaluator.store.reruns import RerunStore
from evaluator.tasks.app import Publisher
from tests.reevaluate.conftest import add_judged_calls
from tests.reevaluate.stand_in import StandIn
from tests.tasks.conftest import (
    RABBITMQ,
    ServiceFactory,
    Workers,
    post_calls,
    settings_of,
    wait_judged,
)

pytestmark = [pytest.mark.celery, pytest.mark.filterwarnings("ignore::UserWarning")]
runner = CliRunner()
CALLS = 6


@pytest.fixture
def judged(worker_env: dict[str, str], definitions: Definitions, booking_request: dict[str, Any],
           monkeypatch: pytest.MonkeyPatch) -> Store:  # fmt: skip
    """CALLS judged calls in the test's schema; the command's settings in the environment."""
    for name, value in worker_env.items():
        monkeypatch.setenv(name, value)
    store = Store(worker_env["EVALUATOR_DATABASE_URL"])
    store.upgrade()
    judge = ScriptedJudge(answers={"csat": 40})
    asyncio.run(add_judged_calls(store, definitions, booking_request, CALLS, judge))
    yield store
    store.close()


def reevaluate(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["reevaluate", *args], catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def test_a_run_on_workers_reports_and_a_second_run_is_answered_by_the_cache(
    judged: Store, workers: Workers, stand_in: StandIn, tmp_path: Path
) -> None:
    workers.start(2, concurrency=4)
    code, output = reevaluate("--backend", "celery", "--metrics", "all",
                              "--report", str(tmp_path / "first"))  # fmt: skip
    assert code == 0, output
    assert f"{CALLS} judged, 0 skipped, 0 failed" in output
    assert (tmp_path / "first" / "changes.csv").read_text().count("csat") >= CALLS
    first = stand_in.sent
    assert first >= CALLS
    code, output = reevaluate("--backend", "celery", "--metrics", "all",
                              "--report", str(tmp_path / "second"))  # fmt: skip
    assert code == 0, output
    assert stand_in.sent == first  # every answer came from the judgment cache


def test_a_cancelled_run_does_nothing_until_resumed(
    judged: Store, workers: Workers, stand_in: StandIn, worker_env: dict[str, str],
    definitions: Definitions, tmp_path: Path,
) -> None:  # fmt: skip
    options = RunOptions(Selection(), ("all",), False)
    run_id = start_run(judged, options, definitions)
    code, output = reevaluate("--cancel", run_id)
    assert code == 0 and "cancelled" in output, output
    assert reevaluate("--cancel", run_id)[0] == 2  # not running any more
    workers.start(1, concurrency=2)
    runs = RerunStore(judged)
    publisher = Publisher(settings_of(worker_env))
    assert publisher.chunk(run_id, runs.pending_ids(run_id))
    time.sleep(3.0)  # the chunk was delivered and skipped the cancelled run
    info = runs.run(run_id)
    assert info is not None and info.states == {"pending": CALLS} and stand_in.sent == 0
    publisher.close()
    code, output = reevaluate("--backend", "celery", "--resume", run_id,
                              "--report", str(tmp_path / "report"))  # fmt: skip
    assert code == 0, output
    assert f"{CALLS} judged" in output
    assert runs.run(run_id).status == "finished"  # type: ignore[union-attr]


async def test_rabbitmq_as_the_broker(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    workers.start(1, concurrency=4, BROKER_URL=RABBITMQ)
    async with service(broker_url=RABBITMQ) as running:
        pks = await post_calls(running, booking_request, 4)
        await asyncio.to_thread(wait_judged, running.store, pks)
    assert stand_in.sent == 4


def test_the_run_s_own_limits_apply_on_every_worker(
    judged: Store, workers: Workers, stand_in: StandIn, tmp_path: Path
) -> None:
    # Two workers of 4 slots each would have up to 6 requests in flight and send the 6 calls
    # within a second; -c and --rpm are the run's own limits across both.
    workers.start(2, concurrency=4)
    code, output = reevaluate("--backend", "celery", "--metrics", "all", "--no-cache", "-c", "1",
                              "--report", str(tmp_path / "one"))  # fmt: skip
    assert code == 0, output
    assert stand_in.sent == CALLS and stand_in.max_in_flight == 1
    before = stand_in.sent
    code, output = reevaluate("--backend", "celery", "--metrics", "all", "--no-cache",
                              "--rpm", "60", "--report", str(tmp_path / "rpm"))  # fmt: skip
    assert code == 0, output
    arrivals = sorted(stand_in.arrivals[before:])
    assert len(arrivals) == CALLS
    # 60/min with a second's burst: turns at 0, 0, 1, 2, 3, 4 s.
    assert arrivals[-1] - arrivals[0] >= 3.5, [round(t - arrivals[0], 2) for t in arrivals]
    assert all("succeeded" in workers.log(i) for i in (0, 1))


def test_run_limits_that_cannot_be_shared_are_refused(
    judged: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVALUATOR_BROKER_URL", RABBITMQ)  # no Redis to share the limits in
    code, output = reevaluate("--backend", "celery", "--rpm", "60")
    assert code == 2 and "EVALUATOR_RATE_LIMIT_URL" in output, output
    code, output = reevaluate("--backend", "celery", "--workers", "2", "-c", "4")
    assert code == 2 and "evaluator worker" in output, output
