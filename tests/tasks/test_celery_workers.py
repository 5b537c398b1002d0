"""Celery workers judging posted calls: exactly once, across a killed worker and a broker that
was down when the calls were posted. Real worker processes, real Redis, real PostgreSQL; the
judge's requests are counted at the loopback stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from evaluator.bootstrap import Definitions
from evaluator.store.calls import Store
from evaluator.store.tables import EvaluationRow
from tests.reevaluate.stand_in import StandIn
from tests.tasks.conftest import (
    API_KEY,
    ServiceFactory,
    Workers,
    children,
    post_calls,
    prompts,
    wait_judged,
)

pytestmark = [
    pytest.mark.celery,
    pytest.mark.filterwarnings("ignore::UserWarning"),
]


def evaluations(store: Store, pks: list[int]) -> dict[int, int]:
    """Stored evaluation runs per call."""
    with store.session() as session:
        counted = session.execute(
            select(EvaluationRow.call_pk, func.count())
            .where(EvaluationRow.call_pk.in_(pks))
            .group_by(EvaluationRow.call_pk)
        )
        return {int(pk): int(n) for pk, n in counted}


async def test_two_workers_judge_every_call_exactly_once(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    workers.start(2, concurrency=4)
    async with service() as running:
        pks = await post_calls(running, booking_request, 12)
        await asyncio.to_thread(wait_judged, running.store, pks)
        stored = evaluations(running.store, pks)
    sent = prompts(stand_in)
    assert stored == dict.fromkeys(pks, 1)
    # Every request is another call's or another metric group's: none was sent twice.
    assert len(sent) == len(set(sent)) and len(sent) >= len(pks)
    # Both workers took part.
    assert all("succeeded" in workers.log(i) for i in (0, 1)), workers.log(0) + workers.log(1)


async def test_a_killed_worker_s_call_is_delivered_again_and_judged_once(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, booking_request: dict[str, Any]
) -> None:
    stand_in.latency = 1.5  # long enough to kill the worker while its request is out
    (master,) = workers.start(pool="prefork", concurrency=1)
    async with service() as running:
        pks = await post_calls(running, booking_request, 3)
        deadline = time.monotonic() + 30
        while stand_in.in_flight == 0:
            assert time.monotonic() < deadline, workers.log(0)
            await asyncio.sleep(0.02)
        (child,) = children(master.pid)
        os.kill(child, signal.SIGKILL)
        killed_at = len(stand_in.requests)
        await asyncio.to_thread(wait_judged, running.store, pks, 90.0)
        stored = evaluations(running.store, pks)
    assert stored == dict.fromkeys(pks, 1)
    # The killed task was rejected back to the broker and delivered again.
    assert "WorkerLostError" in workers.log(0) or "Process" in workers.log(0)
    repeats = [text for text, n in Counter(prompts(stand_in)).items() if n > 1]
    # Only what was in flight when the worker died is asked again; all else exactly once.
    assert len(repeats) <= killed_at
    assert all(n <= 2 for n in Counter(prompts(stand_in)).values())


class Proxy:
    """A TCP forwarder to Redis on a port of its own: the broker as the service sees it,
    down until ``start``."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._server: socket.socket | None = None

    def start(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, sink):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    forwarder = Proxy(("127.0.0.1", 6379))
    yield forwarder
    forwarder.stop()


async def test_calls_posted_while_the_broker_is_down_are_judged_when_it_returns(
    service: ServiceFactory, workers: Workers, stand_in: StandIn, proxy: Proxy,
    booking_request: dict[str, Any],
) -> None:  # fmt: skip
    workers.start(concurrency=2)
    down = f"redis://127.0.0.1:{proxy.port}/11"
    async with service(broker_url=down, lease_seconds=1.0, sweep_seconds=0.3) as running:
        started = time.monotonic()
        pks = await post_calls(running, booking_request, 3)
        assert time.monotonic() - started < 10  # posting did not wait on the broker
        await asyncio.sleep(1.5)
        assert {running.store.get_call(pk).evaluation_status for pk in pks} == {"pending"}
        assert stand_in.sent == 0
        proxy.start()  # the broker is back: the sweeper publishes what was kept
        await asyncio.to_thread(wait_judged, running.store, pks)
        stored = evaluations(running.store, pks)
    assert stored == dict.fromkeys(pks, 1)
    sent = prompts(stand_in)
    assert len(sent) == len(set(sent))


async def test_alerts_run_on_the_calls_a_celery_worker_finished(
    service: ServiceFactory,
    workers: Workers,
    booking_request: dict[str, Any],
    definitions: Definitions,
) -> None:
    # The in-process worker runs the alerts after each evaluation; `evaluator worker` must too.
    # tool_call_errors (computed) is 0 on the booking call: "lt 1" breaches on every call.
    workers.start(1, concurrency=2)
    async with service() as running:
        client = running.client
        headers = {"X-API-Key": API_KEY}
        alerts = "/observability/v1/alerts/"
        catalogue = definitions.catalogue
        body = {
            "name": "no tool errors",
            "project": 1,
            "source_type": "metric",
            "source_id": catalogue.metrics["tool_call_errors"].number,
            "source": {"sub_type": "threshold", "window_size": 1},
            "threshold": {"operator": "lt", "value": 1, "min_breaches": 1},
        }
        created = await client.post(alerts, json=body, headers=headers)
        assert created.status_code == 201, created.text
        pks = await post_calls(running, booking_request, 2)
        await asyncio.to_thread(wait_judged, running.store, pks)
        history: list[Any] = []
        for _ in range(200):  # the firing is stored right after the evaluation: bounded wait
            history = (
                await client.get(f"{alerts}{created.json()['id']}/firings/", headers=headers)
            ).json()
            if len(history) == 2:
                break
            await asyncio.sleep(0.05)
    assert len(history) == 2, (history, workers.log(0))
    assert sorted(f["call_log"] for f in history) == sorted(pks)
